//! Metrics (`proxy_define_metric`, `_increment_`, `_record_`, `_get_`):
//! counters, gauges and histograms (the last record kept), as Envoy treats
//! each kind.

use super::{read_string, status, write, write_u32, C};
use crate::abi::Status;
use crate::state::{Metric, State};
use wasmtime::Linker;

pub(super) fn register(l: &mut Linker<State>) -> wasmtime::Result<()> {
    l.func_wrap("env", "proxy_define_metric", define_metric)?;
    l.func_wrap("env", "proxy_increment_metric", increment_metric)?;
    l.func_wrap("env", "proxy_record_metric", record_metric)?;
    l.func_wrap("env", "proxy_get_metric", get_metric)?;
    Ok(())
}

fn define_metric(mut c: C<'_>, kind: i32, nptr: i32, nlen: i32, id_out: i32) -> i32 {
    let name = match read_string(&mut c, nptr, nlen) {
        Ok(name) => name,
        Err(status) => return status as i32,
    };
    let metrics = &mut c.data_mut().metrics;
    let id = match metrics.iter().position(|m| m.name == name) {
        Some(id) => id,
        None => {
            metrics.push(Metric {
                name,
                kind,
                value: 0,
            });
            metrics.len() - 1
        }
    };
    status(write_u32(&mut c, id_out, id as u32))
}

/// As Envoy: counters go up only, gauges up and down, histograms take
/// records, not increments.
fn increment_metric(mut c: C<'_>, id: i32, offset: i64) -> i32 {
    match c.data_mut().metrics.get_mut(id as u32 as usize) {
        Some(metric) if (metric.kind == 0 && offset >= 0) || metric.kind == 1 => {
            metric.value = metric.value.saturating_add(offset);
            Status::Ok as i32
        }
        Some(_) => Status::BadArgument as i32,
        None => Status::NotFound as i32,
    }
}

/// As Envoy: a counter adds the value, a gauge is set to it, a histogram
/// records it (the last record is kept here).
fn record_metric(mut c: C<'_>, id: i32, value: i64) -> i32 {
    match c.data_mut().metrics.get_mut(id as u32 as usize) {
        Some(metric) if metric.kind == 0 => {
            metric.value = metric.value.saturating_add(value);
            Status::Ok as i32
        }
        Some(metric) => {
            metric.value = value;
            Status::Ok as i32
        }
        None => Status::NotFound as i32,
    }
}

fn get_metric(mut c: C<'_>, id: i32, out: i32) -> i32 {
    match c.data().metrics.get(id as u32 as usize).map(|m| m.value) {
        Some(value) => status(write(&mut c, out, &value.to_le_bytes())),
        None => Status::NotFound as i32,
    }
}
