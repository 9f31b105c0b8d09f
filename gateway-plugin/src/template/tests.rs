//! Every construct against the output Go's `text/template` (as Higress's
//! gjson_template runs it) gives for the same template and data: the
//! expected texts follow Go's documented semantics and gjson_template's
//! printing and function-call rules.

use super::*;
use serde_json::json;

/// A fixed clock (2025-01-02 03:04:05.5 UTC, a Thursday) and fixed
/// randomness, so dates and UUIDs are exact.
struct Fixed;

impl Env for Fixed {
    fn now_unix_nanos(&self) -> i128 {
        1_735_787_045_500_000_000
    }
    fn random(&self) -> [u8; 16] {
        [0xab; 16]
    }
    fn real_ip(&self) -> Option<String> {
        Some("203.0.113.9".into())
    }
    fn socket_ip(&self) -> Option<String> {
        Some("10.0.0.1".into())
    }
}

fn render(text: &str, data: Value) -> String {
    let template = Template::parse("t", text).unwrap_or_else(|e| panic!("{text}: {e}"));
    template
        .render_with(&data, &Fixed)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn run_error(text: &str, data: Value) -> String {
    let template = Template::parse("t", text).unwrap_or_else(|e| panic!("{text}: {e}"));
    match template.render_with(&data, &Fixed) {
        Ok(out) => panic!("{text}: rendered {out:?}"),
        Err(e) => e.to_string(),
    }
}

fn parse_error(text: &str) -> String {
    Template::parse("t", text).unwrap_err().to_string()
}

#[test]
fn values_print_as_gjson_template_prints_them() {
    let data = json!({
        "s": "a\"b<c>", "n": 2500, "f": 2.5, "t": true, "z": null,
        "o": {"b": 1, "a": [1, "x"]}, "e": [], "u": "ünï"
    });
    for (text, want) in [
        ("{{.s}}", "a\"b<c>"),
        ("{{.n}}", "2500"),
        ("{{.f}}", "2.5"),
        ("{{.t}}", "true"),
        ("{{.z}}", "null"),
        ("[{{.missing}}]", "[]"),
        ("[{{.s.deeper}}]", "[]"),
        ("{{.o}}", r#"{"a":[1,"x"],"b":1}"#),
        ("{{.o.a}}", r#"[1,"x"]"#),
        ("{{.e}}", "[]"),
        ("{{.u}}", "ünï"),
        (
            "{{.}}",
            r#"{"e":[],"f":2.5,"n":2500,"o":{"a":[1,"x"],"b":1},"s":"a\"b<c>","t":true,"u":"ünï","z":null}"#,
        ),
        // Literals: an integer as %d, a float as %f, a char as its code.
        (
            "{{3}} {{1.5}} {{2.0}} {{1e3}} {{0x1F}} {{'a'}} {{-4}}",
            "3 1.500000 2 1000 31 97 -4",
        ),
        (
            "{{\"q\\t\\u00e9\"}} {{`raw\\n`}} {{true}}",
            "q\té raw\\n true",
        ),
    ] {
        assert_eq!(render(text, data.clone()), want, "{text}");
    }
}

#[test]
fn trim_markers_and_comments() {
    let data = json!({"x": 1});
    assert_eq!(render("a  \n {{- .x -}} \n  b", data.clone()), "a1b");
    assert_eq!(render("a {{.x -}}  b", data.clone()), "a 1b");
    assert_eq!(render("a {{/* note */}} b", data.clone()), "a  b");
    assert_eq!(render("a {{- /* note */ -}} b", data.clone()), "ab");
    // `{{-3}}` is the number -3, not a trim marker.
    assert_eq!(render("a {{-3}}", data), "a -3");
}

#[test]
fn if_else_if_else_and_truth() {
    let text = "{{if .v}}yes{{else if .w}}w{{else}}no{{end}}";
    for (v, want) in [
        (json!(1), "yes"),
        (json!("x"), "yes"),
        (json!([0]), "yes"),
        (json!({"a": 0}), "yes"),
        (json!(0), "no"),
        (json!(0.0), "no"),
        (json!(""), "no"),
        (json!([]), "no"),
        (json!({}), "no"),
        (json!(null), "no"),
        (json!(false), "no"),
    ] {
        assert_eq!(render(text, json!({"v": v})), want, "{v}");
    }
    assert_eq!(render(text, json!({})), "no", "missing");
    assert_eq!(render(text, json!({"w": 1})), "w");
    assert_eq!(render("{{if not .v}}none{{end}}", json!({})), "none");
    assert_eq!(
        render(
            "{{if and .a .b}}both{{end}}|{{if or .a .b}}one{{end}}",
            json!({"a": 1})
        ),
        "|one"
    );
    // `and`/`or` give the deciding value.
    assert_eq!(
        render(
            "{{and 1 0 2}} {{and 1 2}} {{or 0 \"\" \"x\"}} {{or 0 \"\"}}",
            json!({})
        ),
        "0 2 x "
    );
}

#[test]
fn range_with_index_element_else_break_continue() {
    let data =
        json!({"list": ["a", "b", "c"], "obj": {"k1": 1, "k2": 2}, "none": [], "n": 3, "s": "hé"});
    for (text, want) in [
        ("{{range .list}}[{{.}}]{{end}}", "[a][b][c]"),
        (
            "{{range $i, $e := .list}}{{$i}}={{$e}} {{end}}",
            "0=a 1=b 2=c ",
        ),
        ("{{range $e := .list}}{{$e}}{{end}}", "abc"),
        (
            "{{range $k, $v := .obj}}{{$k}}:{{$v}};{{end}}",
            "k1:1;k2:2;",
        ),
        ("{{range .none}}x{{else}}empty{{end}}", "empty"),
        ("{{range .missing}}x{{else}}empty{{end}}", "empty"),
        ("{{range .n}}{{.}}{{end}}", "012"),
        ("{{range .s}}<{{.}}>{{end}}", "<h><é>"),
        (
            "{{range .list}}{{if eq . \"b\"}}{{continue}}{{end}}{{.}}{{end}}",
            "ac",
        ),
        (
            "{{range .list}}{{if eq . \"b\"}}{{break}}{{end}}{{.}}{{end}}",
            "a",
        ),
        // `$` is the data inside a range, `.` the element.
        ("{{range .list}}{{$.n}}{{end}}", "333"),
        // bravesearch: `## {{add $index 1}}`
        (
            "{{- range $index, $item := .list }}\n{{add $index 1}}.{{$item}}{{- end }}",
            "\n1.a\n2.b\n3.c",
        ),
    ] {
        assert_eq!(render(text, data.clone()), want, "{text}");
    }
    assert_eq!(
        run_error("{{range .t}}x{{end}}", json!({"t": true})),
        "template: t:1: range can't iterate over true"
    );
}

#[test]
fn with_variables_and_scopes() {
    let data = json!({"a": {"b": "inner"}, "x": 1});
    assert_eq!(render("{{with .a}}{{.b}}{{end}}", data.clone()), "inner");
    assert_eq!(
        render("{{with .nope}}x{{else}}none{{end}}", data.clone()),
        "none"
    );
    assert_eq!(
        render("{{$v := .a.b}}{{$v}}-{{$v = \"re\"}}{{$v}}", data.clone()),
        "inner-re"
    );
    assert_eq!(render("{{$v := .a}}{{$v.b}}", data.clone()), "inner");
    assert_eq!(render("{{if $v := .x}}{{$v}}{{end}}", data.clone()), "1");
    // A variable declared in a block ends with it.
    assert_eq!(
        parse_error("{{if true}}{{$y := 1}}{{end}}{{$y}}"),
        r#"template: t:1: undefined variable "$y""#
    );
    assert_eq!(
        parse_error("{{$z = 1}}"),
        r#"template: t:1: undefined variable "$z""#
    );
    // `$x .b` is two operands, `$x.b` one.
    assert_eq!(
        parse_error("{{$v := .a}}{{$v .b}}"),
        "template: t:1: can't give argument to non-function $v"
    );
}

#[test]
fn pipelines_parentheses_and_index() {
    let data =
        json!({"weather": [{"description": "sunny"}], "m": {"a-b": 7, "c": {"d": 8}}, "x": "v"});
    for (text, want) in [
        ("{{(index .weather 0).description}}", "sunny"),
        ("{{index .m \"a-b\"}}", "7"),
        // The key is a gjson path.
        ("{{index .m \"c.d\"}}", "8"),
        ("{{.x | printf \"%s!\"}}", "v!"),
        ("{{\"a\" | upper}}", "A"),
        // gjson_template's printf takes the piped value only when it has no
        // other argument (Go's own would append it).
        (
            "{{\"a\" | upper | printf \"%s-%s\" \"b\"}}",
            "b-%!s(MISSING)",
        ),
        (
            "{{len .weather}} {{len .m}} {{len \"héllo\"}} {{len 5}}",
            "1 2 6 0",
        ),
        (
            "{{gjson \"m.c.d\"}} {{gjson \"weather.0.description\"}}",
            "8 sunny",
        ),
        ("{{with .m}}{{gjson \"c.d\"}}{{end}}", "8"),
    ] {
        assert_eq!(render(text, data.clone()), want, "{text}");
    }
    assert_eq!(
        run_error("{{index .weather 5}}", data.clone()),
        "template: t:1: error calling index: array index out of range: 5"
    );
    // openweather's `(index $item.weather0)`: one argument.
    assert_eq!(
        run_error("{{index .weather}}", data.clone()),
        "template: t:1: wrong number of args for index: want at least 2 got 1"
    );
    // The builtins ignore a piped value (printf aside).
    assert_eq!(
        run_error("{{.weather | len}}", data),
        "template: t:1: wrong number of args for len: want 1 got 0"
    );
}

#[test]
fn comparisons() {
    let data = json!({"n": 5, "s": "5", "t": "person"});
    for (text, want) in [
        (
            "{{eq .n 5}} {{eq .n \"5\"}} {{eq .s 5}} {{ne .n \"5\"}} {{ne .n 5}}",
            "true true true true false",
        ),
        (
            "{{eq .t \"person\"}} {{eq .t \"bot\"}} {{eq .missing .missing}}",
            "true false true",
        ),
        (
            "{{lt 1 2}} {{le 2 2}} {{gt \"b\" \"a\"}} {{ge 1.5 2}}",
            "true true true false",
        ),
    ] {
        assert_eq!(render(text, data.clone()), want, "{text}");
    }
}

#[test]
fn print_printf_println_and_escapes() {
    let data = json!({"o": {"a": 1}, "z": null});
    for (text, want) in [
        ("{{print \"a\" 1 .o}}", r#"a 1 {"a":1}"#),
        ("{{println \"a\"}}", "a\n"),
        (
            "{{printf \"%d|%s|%v|%.2f|%q|%t|%x|%%\" 7 \"s\" .o 3.14159 \"q\" true 255}}",
            "7|s|{\"a\":1}|3.14|\"q\"|true|ff|%",
        ),
        ("{{printf \"%d\" 2.5}}", "%!d(float64=2.5)"),
        ("{{printf \"%s %s\" \"a\"}}", "a %!s(MISSING)"),
        ("{{printf \"%v\" .z}}", "<nil>"),
        (
            "{{urlquery \"a b&c\"}} {{html \"<a href='x'>\"}} {{js \"it's <b>\"}}",
            "a+b%26c &lt;a href=&#39;x&#39;&gt; it\\'s \\u003Cb\\u003E",
        ),
    ] {
        assert_eq!(render(text, data.clone()), want, "{text}");
    }
}

#[test]
fn sprig_functions_as_gjson_template_calls_them() {
    let data = json!({
        "args": {"name": "bob", "list": ["a", "b"], "year": "", "content": "hi", "n": 0},
        "hours": ["9-5", "sat"]
    });
    for (text, want) in [
        ("{{default \"x\" .args.nope}} {{.args.nope | default \"x\"}} {{.args.name | default \"x\"}}", "x x bob"),
        ("{{empty .args.year}} {{empty .args.n}} {{empty .args.list}} {{empty .args.nope}}", "true true false true"),
        // An array reaches toJson as its JSON text: a quoted string.
        ("{{toJson .args.name}} {{toJson .args.list}} {{toJson .args.nope}}", r#""bob" "[\"a\",\"b\"]" null"#),
        ("{{toJson \"<&>\"}}", r#""\u003c\u0026\u003e""#),
        ("{{add 1 2 \"3\"}} {{sub 5 2}} {{mul 2 3}} {{div 7 2}} {{mod 7 2}} {{add1 1}}", "6 3 6 3 1 2"),
        ("{{max 1 5 3}} {{min 4 2}} {{atoi \"42\"}} {{int \"7\"}} {{float64 \"1.5\"}}", "5 2 42 7 1.500000"),
        ("{{upper \"ab\"}} {{lower \"AB\"}} {{title \"hello world\"}} {{trim \" x \"}}", "AB ab Hello World x"),
        ("{{trimPrefix \"a\" \"abc\"}} {{trimSuffix \"c\" \"abc\"}} {{trimAll \"-\" \"--x--\"}}", "bc ab x"),
        ("{{replace \"a\" \"b\" \"aXa\"}} {{contains \"X\" \"aXa\"}} {{hasPrefix \"a\" \"ab\"}} {{hasSuffix \"z\" \"ab\"}}", "bXb true true false"),
        ("{{quote \"a\" 1}} {{squote \"a\"}} {{repeat 3 \"ab\"}} {{substr 1 3 \"hello\"}} {{trunc 2 \"hello\"}}", "\"a\" \"1\" 'a' ababab el he"),
        ("{{cat \"a\" nil \"b\"}} {{nospace \"a b c\"}} {{toString 5}}", "a b abc 5"),
        ("{{.args.content | b64enc}} {{b64dec \"aGk=\"}}", "aGk= hi"),
        ("{{join \",\" .args.list}} {{join \"-\" \"one\"}}", "a,b one"),
        // bravesearch's swapped arguments: the separator is the list's text.
        ("{{join .hours \", \"}}", ", "),
        ("{{ternary \"y\" \"n\" true}} {{coalesce .args.nope \"\" \"c\"}}", "y c"),
        ("{{uuidv4}}", "abababab-abab-4bab-abab-abababababab"),
        ("{{getRealIP}} {{getSocketIP}}", "203.0.113.9 10.0.0.1"),
    ] {
        assert_eq!(render(text, data.clone()), want, "{text}");
    }
    // A missing piped value is no argument: toJson then has none.
    assert!(run_error("{{.args.nope | toJson}}", data.clone())
        .contains("error calling toJson: want 1 arguments, got 0"),);
    // `join ','` passes the rune 44 as the separator (mcp-github).
    assert!(run_error("{{.args.list | join ','}}", data)
        .contains("error calling join: argument 1 is int, not a string"));
}

#[test]
fn dates_in_go_layouts() {
    let data = json!({"args": {"year": "", "zone": "Asia/Shanghai"}});
    for (text, want) in [
        ("{{ now | date \"2006\" }}", "2025"),
        ("{{ date \"2006-01-02 15:04:05.000 Mon Jan _2 3PM -07:00 MST\" now }}", "2025-01-02 03:04:05.500 Thu Jan  2 3AM +00:00 UTC"),
        ("{{ dateInZone \"Monday, 2006-01-02 15:04:05\" now .args.zone }}", "Thursday, 2025-01-02 11:04:05"),
        ("{{ dateInZone \"20060102 Z07:00 002\" now \"Asia/Kolkata\" }}", "20250102 +05:30 002"),
        ("{{ date \"2006-01-02T15:04:05Z07:00\" 0 }}", "1970-01-01T00:00:00Z"),
        ("{{ unixEpoch now }}", "1735787045"),
        ("{{ now }}", "2025-01-02 03:04:05.5 +0000 UTC"),
        // calendar-holiday-helper's request body.
        ("year={{ if empty .args.year }}{{ now | date \"2006\" }}{{ else }}{{ .args.year }}{{ end }}", "year=2025"),
    ] {
        assert_eq!(render(text, data.clone()), want, "{text}");
    }
    assert!(
        run_error("{{ dateInZone \"2006\" now \"America/New_York\" }}", data)
            .contains("unknown time zone America/New_York")
    );
}

#[test]
fn parse_errors_are_gos_with_the_line() {
    for (text, want) in [
        (
            "{{ nope }}",
            r#"template: t:1: function "nope" not defined"#,
        ),
        ("a\n{{ .x ", "template: t:2: unclosed action"),
        ("{{end}}", "template: t:1: unexpected {{end}}"),
        ("{{else}}", "template: t:1: unexpected {{else}}"),
        ("{{if .x}}a", "template: t:1: unexpected EOF in if"),
        ("{{break}}", "template: t:1: {{break}} outside {{range}}"),
        (
            "{{define \"x\"}}{{end}}",
            "template: t:1: {{define}} is not supported (named templates)",
        ),
        (
            "{{\"a\" \"b\"}}",
            r#"template: t:1: can't give argument to non-function "a""#,
        ),
        ("{{nil}}", "template: t:1: nil is not a command"),
        (
            "{{.x | \"s\"}}",
            "template: t:1: non executable command in pipeline stage 2",
        ),
        ("{{ \"open }}", "template: t:1: unterminated quoted string"),
        ("{{ /* open }}", "template: t:1: unclosed comment"),
        ("{{ 1.2.3 }}", "template: t:1: bad number syntax: \"1.2.3\""),
        ("{{ .x ) }}", "template: t:1: unexpected right paren"),
        (
            "{{ # }}",
            "template: t:1: unrecognized character in action: '#'",
        ),
    ] {
        assert_eq!(parse_error(text), want, "{text}");
    }
}

#[test]
fn hostile_templates_are_errors_not_panics() {
    // As gjson_template: the data is an object or an array.
    assert_eq!(
        Template::parse("body", "x")
            .unwrap()
            .render(&json!("s"))
            .unwrap_err()
            .to_string(),
        "template: body: data must be a valid JSON object or array"
    );
    // Nesting is bounded (each level is a frame of the Wasm stack).
    let deep = "{{if 1}}".repeat(2000) + &"{{end}}".repeat(2000);
    assert_eq!(
        Template::parse("t", &deep).unwrap_err().to_string(),
        "template: t:1: nested deeper than 100"
    );
    let parens = "{{".to_string() + &"(".repeat(500) + "1" + &")".repeat(500) + "}}";
    assert!(Template::parse("t", &parens).is_err());
    let fine = "{{if 1}}".repeat(100) + "x" + &"{{end}}".repeat(100);
    assert_eq!(render(&fine, json!({})), "x");
    for text in [
        "{{",
        "}}",
        "{{{{}}}}",
        "{{ ( }}",
        "{{ ) }}",
        "{{ | }}",
        "{{ := }}",
        "{{ $ }}",
        "{{ 'ab' }}",
        "{{ \"\\x\" }}",
        "{{range $a, $b, $c := .x}}{{end}}",
    ] {
        let _ = Template::parse("t", text).and_then(|t| t.render(&json!({"x": [1]})));
    }
}

/// Random soups of template pieces: each parses or is refused, and runs
/// or fails, without a panic (a panic in Wasm would kill the VM).
#[test]
fn random_templates_never_panic() {
    const PIECES: &[&str] = &[
        "{{",
        "}}",
        "{{- ",
        " -}}",
        ".a",
        ".b.c",
        "$",
        "$x",
        ":=",
        "=",
        "|",
        "(",
        ")",
        ",",
        "if ",
        "else ",
        "end",
        "range ",
        "with ",
        "break",
        "continue",
        "index ",
        "len ",
        "printf ",
        "\"%d\"",
        "\"s\"",
        "`r`",
        "1",
        "-2",
        "3.5",
        "'c'",
        "nil",
        "true",
        "eq ",
        "and ",
        "toJson ",
        "default ",
        "join ",
        "dateInZone ",
        "now",
        "add ",
        "text ",
        "\n",
        "/*",
        "*/",
        "\\",
        "\"",
        "$i, $e := ",
        "é",
        "\u{3000}",
        ".é",
        "$é",
        "'😀'",
    ];
    let data = json!({"a": [1, {"x": "y"}], "b": {"c": "d"}});
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..5000 {
        let mut text = String::new();
        for _ in 0..(seed % 12 + 1) {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            text.push_str(PIECES[(seed >> 33) as usize % PIECES.len()]);
        }
        if let Ok(template) = Template::parse("t", &text) {
            let _ = template.render_with(&data, &Fixed);
        }
    }
}
