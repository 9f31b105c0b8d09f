//! The plugin's root context, one per filter configuration: it parses the
//! configuration, creates the streams, runs the `#[on_tick]` handlers, and
//! is the context callouts are made on behalf of (`callout.rs`). The host's
//! callbacks reach it through `host/exports.rs`.

use crate::callout;
use crate::executor::{self, TaskFuture};
use crate::host::{self, BufferType};
use crate::logger;
use crate::plugin::{uses_executor, Plugin};
use crate::rules::{self, RuleSet};
use crate::stream::Stream;
use crate::tick::{TickHandler, TickState};
use std::cell::Cell;
use std::rc::Rc;

/// The plugin's root context: parses the configuration, creates streams.
pub(crate) struct Root<P: Plugin> {
    context_id: u32,
    config: Option<Rc<RuleSet<P>>>,
    /// The tick timer, if the plugin has `#[on_tick]` handlers.
    ticks: Option<TickState>,
    /// Which async tick handlers are still running: bit `slot` of the mask.
    ticking: Rc<Cell<u64>>,
}

impl<P: Plugin> Root<P> {
    pub(crate) fn new(context_id: u32) -> Self {
        if uses_executor::<P>() {
            executor::add_root(context_id);
        }
        Root {
            context_id,
            config: None,
            ticks: None,
            ticking: Rc::default(),
        }
    }

    pub(crate) fn context_id(&self) -> u32 {
        self.context_id
    }

    /// A (new) configuration: parsed, it replaces the one in use; refused,
    /// the one in use stays (and the host refuses the update).
    pub(crate) fn configure(&mut self, plugin_configuration_size: usize) -> bool {
        logger::refresh_level();
        let raw = match host::get_buffer(
            BufferType::PluginConfiguration,
            0,
            plugin_configuration_size,
        ) {
            Ok(raw) => raw.unwrap_or_default(),
            Err(err) => {
                log::error!("cannot read the plugin configuration: {err}");
                return false;
            }
        };
        if P::may_have_rules() {
            // Higress's `_plugin_id_` goes to the logger first, so the
            // plugin's own parser already logs with it; parsing stays pure.
            if let Some(id) = rules::plugin_id(&raw) {
                logger::set_plugin_id(&id);
            }
        }
        match P::parse_config(&raw) {
            Ok(config) => {
                self.config = Some(Rc::new(config));
                self.start_ticks()
            }
            Err(err) => {
                // Keep the previous config (if any) so a bad update does not
                // take a working plugin down; the host refuses the update.
                log::error!("{err}");
                false
            }
        }
    }

    /// A new stream, with the config it runs with.
    pub(crate) fn new_stream(&self, context_id: u32) -> Stream<P> {
        // Without rules every stream gets the global config now; with rules
        // the config is picked at request headers.
        let (config, rules) = match &self.config {
            Some(rules) if P::may_have_rules() && rules.has_rules() => {
                (None, Some(Rc::clone(rules)))
            }
            Some(rules) => (rules.global_config().cloned(), None),
            None => (None, None),
        };
        Stream::<P>::new(context_id, self.context_id, rules, config)
    }

    /// Starts the root's timer for the `#[on_tick]` handlers (after a good
    /// configuration); `false` if the host refuses the timer.
    fn start_ticks(&mut self) -> bool {
        if !P::has_ticks() {
            return true;
        }
        let ticks = P::ticks();
        let Some(state) = TickState::new(&ticks) else {
            return true;
        };
        if let Err(err) = host::set_tick_period(state.host_period_ms) {
            log::error!("cannot start the tick handlers' timer: {err}");
            return false;
        }
        if self.ticks.is_none() {
            self.ticks = Some(state);
        }
        true
    }

    /// A host tick: runs the tick handlers whose turn it is, with the global
    /// config.
    pub(crate) fn tick(&mut self) {
        if !P::has_ticks() {
            return;
        }
        let ticks = P::ticks();
        let Some(state) = self.ticks.as_mut() else {
            return;
        };
        let Some(config) = self
            .config
            .as_ref()
            .and_then(|c| c.global_config().cloned())
        else {
            log::debug!("tick skipped: no global configuration");
            return;
        };
        let root = self.context_id;
        let ticking = &self.ticking;
        state.advance(&ticks, |slot, tick| match tick.handler {
            TickHandler::Sync(handler) => handler(&config),
            // (The guard is constant: plugins without async handlers carry
            // no executor.)
            TickHandler::Async(_) if !uses_executor::<P>() => {}
            TickHandler::Async(handler) => spawn_tick(root, ticking, slot, handler, &config),
        });
    }
}

/// Runs an async tick handler as a task of root `root`, unless its previous
/// run still waits (bit `slot` of `ticking`).
fn spawn_tick<P>(
    root: u32,
    ticking: &Rc<Cell<u64>>,
    slot: usize,
    handler: fn(Rc<P>) -> TaskFuture,
    config: &Rc<P>,
) {
    let bit = 1u64 << slot;
    if ticking.get() & bit != 0 {
        log::debug!("tick {slot} skipped: its previous run still waits");
        return;
    }
    ticking.set(ticking.get() | bit);
    let done = Rc::clone(ticking);
    let future = handler(Rc::clone(config));
    let task: TaskFuture = Box::pin(async move {
        let out = future.await;
        done.set(done.get() & !bit);
        out
    });
    // Callouts are made on behalf of this root (its callback); the task is
    // nobody's: it frees itself when done.
    callout::in_root_callback(root, || {
        let _ = executor::spawn(root, root, task, None, false);
    });
}

/// A root is deleted when its configuration is removed (a listener or a
/// route's filter goes away, a configuration push replaces it); other roots
/// of the same VM live on.
impl<P: Plugin> Drop for Root<P> {
    fn drop(&mut self) {
        if !uses_executor::<P>() {
            return;
        }
        callout::remove_root(self.context_id);
        log::debug!(
            "root context {} removed; {} left in this VM",
            self.context_id,
            executor::root_count()
        );
    }
}
