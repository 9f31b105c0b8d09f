//! Client addresses and sets of IP prefixes: what Higress's IP-based
//! plugins (rate limits per IP, IP allow and deny lists) read from a
//! request and match it against. Prefixes are the `ipnet` crate's.

use ipnet::IpNet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

/// Where a plugin reads the client's address, as Higress's plugins are
/// configured (`ip_source_type: header | peer`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IpSource {
    /// The connection's peer (the property `source.address`).
    Peer,
    /// A request header, e.g. `x-forwarded-for`: its first entry.
    Header(String),
}

impl IpSource {
    /// [`IpSource::Header`] of this name.
    pub fn header(name: &str) -> IpSource {
        IpSource::Header(name.to_string())
    }
}

/// An address as Higress's `util.ParseIP` then Go's `net.ParseIP` read it:
/// `1.2.3.4`, `1.2.3.4:8080`, `::1`, `[::1]:8080` (surrounding spaces
/// trimmed). Where Go finds an address this finds the same one; it also
/// reads the IPv4-mapped forms (`[::ffff:1.2.3.4]:80`) that Go's split on
/// `:` breaks. IPv4 with leading zeros (`01.2.3.4`) is refused, as by Go.
///
/// ```
/// use gateway_plugin::ip::parse_ip;
/// use std::net::IpAddr;
/// assert_eq!(parse_ip("10.0.0.7:51234"), Some(IpAddr::from([10, 0, 0, 7])));
/// assert_eq!(parse_ip("[::1]:80"), "::1".parse().ok());
/// assert_eq!(parse_ip("not an address"), None);
/// ```
pub fn parse_ip(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    if let Some(bracketed) = text.strip_prefix('[') {
        let (address, _port) = bracketed.split_once(']')?;
        return address.parse().ok();
    }
    if let Ok(address) = text.parse() {
        return Some(address);
    }
    // IPv4 and a port: Go keeps what is before the first `:`.
    let (host, _port) = text.split_once(':')?;
    host.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

/// The first entry of a forwarding header's value (`x-forwarded-for:
/// client, proxy1, proxy2` is `client`), as Higress's plugins take it.
pub(crate) fn first_forwarded(value: &str) -> &str {
    value.split(',').next().unwrap_or_default().trim()
}

/// A set of IP prefixes (`10.0.0.0/8`, `2001:db8::/32`) and single
/// addresses, as Go's `iptree` holds an allow or deny list.
///
/// An IPv4-mapped IPv6 address (`::ffff:10.1.2.3`) is matched as the IPv4
/// address it is. A lookup goes through every prefix: sets the size of a
/// configuration's list are what it is for.
///
/// ```
/// use gateway_plugin::ip::IpSet;
/// let set: IpSet = ["10.0.0.0/8", "192.168.1.7", "2001:db8::/32"].iter().map(|s| s.parse()).collect::<Result<_, _>>().unwrap();
/// assert!(set.contains("10.200.0.1".parse().unwrap()));
/// assert!(set.contains("::ffff:192.168.1.7".parse().unwrap()));
/// assert!(!set.contains("192.168.1.8".parse().unwrap()));
/// assert_eq!("10.0.0.0/33".parse::<IpSet>().unwrap_err().to_string(), r#"invalid IP "10.0.0.0/33""#);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IpSet {
    prefixes: Vec<IpNet>,
}

/// A prefix or address an [`IpSet`] cannot take; it says Go's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpSetError {
    text: String,
}

impl fmt::Display for IpSetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid IP {:?}", self.text)
    }
}

impl std::error::Error for IpSetError {}

impl IpSet {
    /// An empty set.
    pub fn new() -> IpSet {
        IpSet::default()
    }

    /// Adds a prefix (`10.0.0.0/8`) or one address (`10.1.2.3`, `::1`).
    pub fn insert(&mut self, prefix: &str) -> Result<(), IpSetError> {
        let text = prefix.trim();
        let net = match text.contains('/') {
            true => text.parse::<IpNet>().ok(),
            false => text.parse::<IpAddr>().ok().map(IpNet::from),
        };
        let net = net.ok_or_else(|| IpSetError {
            text: prefix.to_string(),
        })?;
        self.prefixes.push(net.trunc());
        Ok(())
    }

    /// Whether `address` is in one of the prefixes.
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.prefixes.iter().any(|net| net.contains(&address))
    }

    /// How many prefixes the set has.
    pub fn len(&self) -> usize {
        self.prefixes.len()
    }

    /// Whether the set has no prefix.
    pub fn is_empty(&self) -> bool {
        self.prefixes.is_empty()
    }
}

impl std::str::FromStr for IpSet {
    type Err = IpSetError;

    /// A set of one prefix or address.
    fn from_str(prefix: &str) -> Result<IpSet, IpSetError> {
        let mut set = IpSet::new();
        set.insert(prefix)?;
        Ok(set)
    }
}

impl FromIterator<IpSet> for IpSet {
    fn from_iter<I: IntoIterator<Item = IpSet>>(sets: I) -> IpSet {
        IpSet {
            prefixes: sets.into_iter().flat_map(|set| set.prefixes).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    /// What Higress's `util.ParseIP` + `net.ParseIP` make of peer and
    /// header values (cluster-key-rate-limit's `getDownStreamIp`).
    #[test]
    fn parses_addresses_as_higress() {
        for (text, want) in [
            ("1.2.3.4", Some("1.2.3.4")),
            ("1.2.3.4:8080", Some("1.2.3.4")),
            (" 1.2.3.4 ", Some("1.2.3.4")),
            ("1.2.3.4:", Some("1.2.3.4")),
            ("::1", Some("::1")),
            ("2001:db8::68", Some("2001:db8::68")),
            ("[2001:db8::68]:443", Some("2001:db8::68")),
            ("[::1]", Some("::1")),
            // Go: refused (leading zeros since Go 1.17, not an address, empty).
            ("01.2.3.4", None),
            ("1.2.3", None),
            ("1.2.3.256", None),
            ("example.com", None),
            ("", None),
            ("[::1", None),
            ("fe80::1%eth0", None),
            // Go's split on ':' breaks these; read here.
            ("::ffff:1.2.3.4", Some("::ffff:1.2.3.4")),
            ("[::ffff:1.2.3.4]:80", Some("::ffff:1.2.3.4")),
        ] {
            assert_eq!(parse_ip(text), want.map(ip), "{text:?}");
        }
    }

    #[test]
    fn takes_the_first_forwarded_entry() {
        assert_eq!(first_forwarded("1.2.3.4, 10.0.0.1"), "1.2.3.4");
        assert_eq!(first_forwarded(" 1.2.3.4 ,x"), "1.2.3.4");
        assert_eq!(first_forwarded(""), "");
    }

    #[test]
    fn matches_prefixes_and_addresses() {
        let mut set = IpSet::new();
        for prefix in [
            "10.0.0.0/8",
            "192.168.1.7",
            "2001:db8::/32",
            "172.16.5.9/12",
        ] {
            set.insert(prefix).unwrap();
        }
        assert_eq!(set.len(), 4);
        for (address, inside) in [
            ("10.0.0.0", true),
            ("10.255.255.255", true),
            ("11.0.0.0", false),
            ("192.168.1.7", true),
            ("192.168.1.6", false),
            ("::ffff:10.1.1.1", true),
            ("2001:db8:ffff::1", true),
            ("2001:db9::1", false),
            // The host bits of 172.16.5.9/12 do not matter: 172.16.0.0/12.
            ("172.31.0.1", true),
            ("172.32.0.1", false),
        ] {
            assert_eq!(set.contains(ip(address)), inside, "{address}");
        }
        for bad in ["10.0.0.0/33", "10.0.0", "", "::/129", "10.0.0.0/x"] {
            assert_eq!(
                set.insert(bad).unwrap_err().to_string(),
                format!("invalid IP {bad:?}")
            );
        }
        assert!(IpSet::new().is_empty() && !IpSet::new().contains(ip("0.0.0.0")));
        assert!("0.0.0.0/0"
            .parse::<IpSet>()
            .unwrap()
            .contains(ip("8.8.8.8")));
    }
}
