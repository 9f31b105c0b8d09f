//! One live instance of the plugin ([`Machine`]): wasmtime's store, the
//! plugin's callbacks ([`Exports`]) and how the host calls them (fuel per
//! stream, traps turned into errors), plus what it is instantiated from
//! ([`Compiled`]). The scheduler (`schedule.rs`) drives it; the public API
//! (`host.rs`) owns it.

use crate::error::Error;
use crate::state::{ExportCost, Setup, State};
use std::sync::Arc;
use wasmtime::{Engine, Instance, Linker, Module, Store, TypedFunc, WasmParams, WasmResults};

/// A compiled plugin: what every [`Machine`] of it is instantiated from.
pub(crate) struct Compiled {
    pub engine: Engine,
    pub module: Module,
    pub linker: Linker<State>,
}

/// An optional callback with parameters `P`, returning `R`.
type Callback<P, R = ()> = Option<TypedFunc<P, R>>;

/// Typed handles on the plugin's callbacks.
pub(crate) struct Exports {
    pub on_context_create: TypedFunc<(i32, i32), ()>,
    pub on_vm_start: Option<TypedFunc<(i32, i32), i32>>,
    pub on_configure: Option<TypedFunc<(i32, i32), i32>>,
    pub on_request_headers: Option<TypedFunc<(i32, i32, i32), i32>>,
    pub on_request_body: Option<TypedFunc<(i32, i32, i32), i32>>,
    pub on_response_headers: Option<TypedFunc<(i32, i32, i32), i32>>,
    pub on_response_body: Option<TypedFunc<(i32, i32, i32), i32>>,
    pub on_request_trailers: Option<TypedFunc<(i32, i32), i32>>,
    pub on_response_trailers: Option<TypedFunc<(i32, i32), i32>>,
    pub on_log: Option<TypedFunc<i32, ()>>,
    pub on_done: Option<TypedFunc<i32, i32>>,
    pub on_delete: Option<TypedFunc<i32, ()>>,
    pub on_http_call_response: Callback<(i32, i32, i32, i32, i32)>,
    pub on_redis_call_response: Callback<(i32, i32, i32, i32)>,
    pub on_tick: Option<TypedFunc<i32, ()>>,
    pub on_queue_ready: Option<TypedFunc<(i32, i32), ()>>,
    /// The plugin's linear memory (`None` for a module without one).
    pub memory: Option<wasmtime::Memory>,
}

/// One live instance of the plugin: wasmtime's store and the callbacks.
pub(crate) struct Machine {
    pub store: Store<State>,
    pub exports: Exports,
    pub next_context: u32,
    /// A trap killed this instance; it is replaced before the next call.
    pub dead: bool,
}

impl Machine {
    /// Instantiates the plugin, runs its WASI initializer and starts the
    /// first root context with `config`; `logs` are the log lines so far.
    pub(crate) fn start(
        compiled: &Compiled,
        setup: &Arc<Setup>,
        config: Vec<u8>,
        logs: Vec<String>,
    ) -> Result<Machine, Error> {
        let mut state = State::new(Arc::clone(setup), config.clone());
        state.logs = logs;
        let mut store = Store::new(&compiled.engine, state);
        store.set_fuel(u64::MAX).expect("fuel is enabled");
        // Counts the plugin's host calls, for the profile.
        store.call_hook(|mut store, hook| {
            if let wasmtime::CallHook::CallingHost = hook {
                store.data_mut().host_calls += 1;
            }
            Ok(())
        });
        let instance = compiled
            .linker
            .instantiate(&mut store, &compiled.module)
            .map_err(|e| Error::Load {
                path: "<instance>".into(),
                reason: format!("{e:?}"),
            })?;
        let exports = Exports::find(&instance, &mut store)?;
        let mut machine = Machine {
            store,
            exports,
            next_context: 2,
            dead: false,
        };
        // WASI reactors export `_initialize`; commands (TinyGo) `_start`.
        for init in ["_initialize", "_start"] {
            if let Ok(f) = instance.get_typed_func::<(), ()>(&mut machine.store, init) {
                machine.call(init, Some(f), 1, None, ())?;
                break;
            }
        }
        machine.start_root(1, config)?;
        Ok(machine)
    }

    /// Creates root context `root`, starts and configures it, as Envoy does
    /// for every plugin configuration (`proxy_on_vm_start` then
    /// `proxy_on_configure`, each root on its own).
    pub(crate) fn start_root(&mut self, root: u32, config: Vec<u8>) -> Result<(), Error> {
        let state = self.store.data_mut();
        if !state.roots.contains(&root) {
            state.roots.push(root);
        }
        let config_len = config.len() as i32;
        let first_config = std::mem::replace(&mut state.plugin_config, config);
        let vm_config = state.vm_config.len() as i32;
        let create = self.exports.on_context_create.clone();
        let started = self
            .call(
                "proxy_on_context_create",
                Some(create),
                root,
                None,
                (root as i32, 0),
            )
            .and_then(|_| {
                self.call(
                    "proxy_on_vm_start",
                    self.exports.on_vm_start.clone(),
                    root,
                    None,
                    (root as i32, vm_config),
                )
            })
            .and_then(|started| {
                let configured = self.call(
                    "proxy_on_configure",
                    self.exports.on_configure.clone(),
                    root,
                    None,
                    (root as i32, config_len),
                )?;
                Ok(started != Some(0) && configured != Some(0))
            });
        let state = self.store.data_mut();
        if root != state.root_id {
            // The first root's configuration stays readable as before.
            state.plugin_config = first_config;
        }
        if !started? {
            // A refused configuration's root is deleted again.
            if root != self.store.data().root_id {
                self.delete_root(root)?;
            }
            return Err(Error::Refused {
                logs: self.store.data().logs.clone(),
            });
        }
        Ok(())
    }

    /// Deletes root context `root` as Envoy does when its configuration is
    /// removed: `proxy_on_done`, `proxy_on_delete`, and the callouts made on
    /// its behalf are cancelled.
    pub(crate) fn delete_root(&mut self, root: u32) -> Result<(), Error> {
        let (on_done, on_delete) = (self.exports.on_done.clone(), self.exports.on_delete.clone());
        self.call("proxy_on_done", on_done, root, None, root as i32)?;
        self.call("proxy_on_delete", on_delete, root, None, root as i32)?;
        let state = self.store.data_mut();
        state.roots.retain(|r| *r != root);
        state.pending.retain(|p| p.context != root);
        Ok(())
    }

    /// Calls a plugin callback as context `context`, for stream `attributed`
    /// (whose fuel it counts). `None` if the plugin lacks the export.
    pub(crate) fn call<P: WasmParams, R: WasmResults>(
        &mut self,
        name: &str,
        func: Option<TypedFunc<P, R>>,
        context: u32,
        attributed: Option<u32>,
        params: P,
    ) -> Result<Option<R>, Error> {
        let Some(func) = func else {
            return Ok(None);
        };
        let state = self.store.data_mut();
        state.effective = context;
        state.attributed = attributed;
        let logs_before = state.logs.len();
        let host_calls_before = state.host_calls;
        let fuel_before = self.store.get_fuel().unwrap_or(0);
        let result = func.call(&mut self.store, params);
        let spent = fuel_before.saturating_sub(self.store.get_fuel().unwrap_or(0));
        let state = self.store.data_mut();
        if let Some(stream) = attributed {
            *state.fuel.entry(stream).or_default() += spent;
        }
        let host_calls = state.host_calls - host_calls_before;
        match state.profile.iter_mut().find(|cost| cost.export == name) {
            Some(cost) => {
                cost.calls += 1;
                cost.instructions += spent;
                cost.host_calls += host_calls;
            }
            None => state.profile.push(ExportCost {
                export: name.to_string(),
                calls: 1,
                instructions: spent,
                host_calls,
            }),
        }
        match result {
            Ok(value) => Ok(Some(value)),
            Err(err) => {
                self.dead = true;
                let trap = err
                    .downcast_ref::<wasmtime::Trap>()
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| err.to_string());
                let panic = state.logs[logs_before..]
                    .iter()
                    .rev()
                    .find(|l| l.contains("panicked"))
                    .map(|l| l.trim_start_matches("critical ").to_string());
                let message = match panic {
                    Some(panic) => format!("{panic} ({trap})"),
                    None => format!("{trap}\n{err:?}"),
                };
                Err(Error::Trap {
                    callback: format!("{name}({context})"),
                    message,
                    logs: state.logs.clone(),
                })
            }
        }
    }
}

impl Exports {
    fn find(instance: &Instance, store: &mut Store<State>) -> Result<Exports, Error> {
        macro_rules! get {
            ($name:literal) => {
                instance.get_typed_func(&mut *store, $name).ok()
            };
        }
        Ok(Exports {
            on_context_create: instance
                .get_typed_func(&mut *store, "proxy_on_context_create")
                .map_err(|_| Error::MissingExport {
                    name: "proxy_on_context_create".into(),
                })?,
            on_vm_start: get!("proxy_on_vm_start"),
            on_configure: get!("proxy_on_configure"),
            on_request_headers: get!("proxy_on_request_headers"),
            on_request_body: get!("proxy_on_request_body"),
            on_response_headers: get!("proxy_on_response_headers"),
            on_response_body: get!("proxy_on_response_body"),
            on_request_trailers: get!("proxy_on_request_trailers"),
            on_response_trailers: get!("proxy_on_response_trailers"),
            on_log: get!("proxy_on_log"),
            on_done: get!("proxy_on_done"),
            on_delete: get!("proxy_on_delete"),
            on_http_call_response: get!("proxy_on_http_call_response"),
            on_redis_call_response: get!("proxy_on_redis_call_response"),
            on_tick: get!("proxy_on_tick"),
            on_queue_ready: get!("proxy_on_queue_ready"),
            memory: instance.get_memory(&mut *store, "memory"),
        })
    }
}
