//! Drives streams through the plugin the way Envoy's proxy-wasm host does,
//! and decides what happens next: a stream moves on, a new one starts, a
//! callout is answered, a client hangs up. In FIFO order for single
//! requests; drawn from a seeded random generator for interleaved ones.
//!
//! The phases, as Envoy calls them: `on_context_create`, request headers,
//! request body (one call per chunk; `StopIterationAndBuffer` keeps
//! buffering), the upstream, response headers, response body, then
//! `on_log`, `on_done`, `on_delete`. A phase that returns `Pause` at the end
//! of its data waits for `proxy_continue_stream`. A local response
//! (`proxy_send_local_response`) in a request phase skips the rest of the
//! request and the upstream, and passes through the response phases, as in
//! Envoy; in a response phase it replaces the response.
//!
//! The request and the response go through one path, by [`Direction`]
//! (`direction.rs`); callouts and queues are answered in `callout.rs`.

mod callout;
mod direction;

use crate::abi::action::CONTINUE;
use crate::error::Error;
use crate::http::{self, ClientResponse, ReceivedChunk, Request, Response, UpstreamRequest};
use crate::machine::Machine;
use crate::state::StreamData;
use callout::{deliver, queue_ready};
use direction::{DataCallback, Direction};
use std::collections::VecDeque;

pub(crate) enum Order {
    Fifo,
    Seeded(u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Start,
    RequestHeaders,
    RequestBody,
    RequestTrailers,
    Upstream,
    ResponseHeaders,
    ResponseBody,
    ResponseTrailers,
    End,
    Finished,
}

impl Phase {
    fn is_request(self) -> bool {
        matches!(
            self,
            Phase::RequestHeaders | Phase::RequestBody | Phase::RequestTrailers
        )
    }

    fn is_response(self) -> bool {
        matches!(
            self,
            Phase::ResponseHeaders | Phase::ResponseBody | Phase::ResponseTrailers
        )
    }
}

struct Run {
    request: Request,
    id: u32,
    phase: Phase,
    /// Paused on the plugin: waits for `proxy_continue_stream`.
    waiting: bool,
    request_chunks: VecDeque<Vec<u8>>,
    request_sent: Vec<u8>,
    response_chunks: VecDeque<Vec<u8>>,
    response_sent: Vec<u8>,
    /// How many of the upstream's body chunks reached the plugin so far.
    response_delivered: usize,
    /// What went on to the client, piece by piece.
    received: Vec<ReceivedChunk>,
    /// The upstream resets the stream once its chunks are sent.
    response_reset: bool,
    /// The upstream's (or a local reply's) trailers, still to come.
    response_trailers: http::HeaderMap,
    upstream: Option<UpstreamRequest>,
    /// The response is a local one from a request phase.
    local: bool,
    hung_up: bool,
    result: Option<Response>,
    /// What the plugin left on the stream: local-reply details, properties.
    details: Option<String>,
    properties: std::collections::HashMap<String, Vec<u8>>,
}

impl Run {
    fn new(request: Request) -> Run {
        Run {
            request_chunks: chunks(&request.body, request.chunk_size),
            request,
            id: 0,
            phase: Phase::Start,
            waiting: false,
            request_sent: Vec::new(),
            response_chunks: VecDeque::new(),
            response_sent: Vec::new(),
            response_delivered: 0,
            received: Vec::new(),
            response_reset: false,
            response_trailers: Vec::new(),
            upstream: None,
            local: false,
            hung_up: false,
            result: None,
            details: None,
            properties: Default::default(),
        }
    }

    /// The client hangs up: the stream ends where it is.
    fn hang_up(&mut self) {
        self.hung_up = true;
        self.waiting = false;
        self.phase = Phase::End;
    }

    /// The body chunks of `direction` still to reach the plugin.
    fn chunks_left(&mut self, direction: Direction) -> &mut VecDeque<Vec<u8>> {
        match direction {
            Direction::Request => &mut self.request_chunks,
            Direction::Response => &mut self.response_chunks,
        }
    }

    /// Whether nothing of `direction`'s message follows what the plugin
    /// is given now (its headers, or the chunk just taken): with trailers
    /// (or a reset to come), no body chunk ends the stream.
    fn ends_here(&self, direction: Direction) -> bool {
        match direction {
            Direction::Request => {
                self.request_chunks.is_empty() && self.request.trailers.is_empty()
            }
            Direction::Response => {
                self.response_chunks.is_empty()
                    && self.response_trailers.is_empty()
                    && !self.response_reset
            }
        }
    }

    /// `direction`'s trailers, for the host to hand the plugin.
    fn take_trailers(&mut self, direction: Direction) -> http::HeaderMap {
        match direction {
            Direction::Request => self.request.trailers.clone(),
            Direction::Response => std::mem::take(&mut self.response_trailers),
        }
    }
}

fn chunks(body: &[u8], size: Option<usize>) -> VecDeque<Vec<u8>> {
    match size {
        _ if body.is_empty() => VecDeque::new(),
        Some(size) => body.chunks(size).map(<[u8]>::to_vec).collect(),
        None => VecDeque::from([body.to_vec()]),
    }
}

#[derive(Clone, Copy, Debug)]
enum Event {
    /// A configuration push removes a root (it is deleted once its streams end).
    RemoveRoot(u32),
    HangUp(usize),
    Step(usize),
    Start(usize),
    Deliver(u64),
    QueueReady(u32),
}

/// A root being removed: first announced (the event comes once all its
/// streams have started), then removing (deleted once they have ended).
#[derive(Default)]
struct Removal {
    announced: Option<u32>,
    removing: Option<u32>,
}

pub(crate) fn run(
    machine: &mut Machine,
    requests: Vec<Request>,
    order: Order,
) -> Result<Vec<ClientResponse>, Error> {
    run_removing_root(machine, requests, order, None)
}

/// [`run`], and root `remove` is removed on the way: the removal is an event
/// once all of that root's streams have started; the root is deleted when
/// they have all ended.
pub(crate) fn run_removing_root(
    machine: &mut Machine,
    requests: Vec<Request>,
    order: Order,
    remove: Option<u32>,
) -> Result<Vec<ClientResponse>, Error> {
    for request in &requests {
        request.validate()?;
    }
    let mut removal = Removal {
        announced: remove,
        removing: None,
    };
    let seed = match order {
        Order::Fifo => None,
        Order::Seeded(seed) => Some(seed),
    };
    let mut rng = seed.map(fastrand::Rng::with_seed);
    let mut runs: Vec<Run> = requests.into_iter().map(Run::new).collect();
    loop {
        let events = possible_events(machine, &runs, removal.announced);
        if events.is_empty() {
            break;
        }
        let event = pick(&events, rng.as_mut());
        handle(machine, &mut runs, event, &mut removal)?;
        for run in runs.iter_mut() {
            settle_waiting(machine, run);
        }
        if let Some(root) = removal.removing {
            let live = machine
                .store
                .data()
                .streams
                .values()
                .any(|s| s.root == root);
            if !live {
                removal.removing = None;
                machine.delete_root(root)?;
            }
        }
    }
    if let Some(root) = removal.removing.or(removal.announced) {
        machine.delete_root(root)?;
    }
    results(machine, runs, seed)
}

/// What may happen next: a stream starts or moves on, a waiting client
/// hangs up, the announced root is removed, a callout is answered, a queue
/// is ready.
fn possible_events(machine: &Machine, runs: &[Run], remove: Option<u32>) -> Vec<Event> {
    let mut events = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        match run.phase {
            Phase::Finished => {}
            Phase::Start => events.push(Event::Start(i)),
            _ if run.waiting => {
                if run.request.hang_up {
                    events.push(Event::HangUp(i));
                }
            }
            _ => events.push(Event::Step(i)),
        }
    }
    if let Some(root) = remove {
        let root_of = |run: &Run| run.request.root.map_or(1, |r| r.0);
        if runs
            .iter()
            .all(|r| root_of(r) != root || r.phase != Phase::Start)
        {
            events.push(Event::RemoveRoot(root));
        }
    }
    let state = machine.store.data();
    events.extend(state.pending.iter().map(|p| Event::Deliver(p.serial)));
    events.extend(state.queues_ready.first().map(|q| Event::QueueReady(*q)));
    events
}

/// The next event: drawn from the seeded generator, or else by rank
/// (hang-ups first, a root's removal last).
fn pick(events: &[Event], rng: Option<&mut fastrand::Rng>) -> Event {
    match rng {
        Some(rng) => events[rng.usize(..events.len())],
        None => {
            let rank = |e: &Event| match e {
                Event::RemoveRoot(_) => 5,
                Event::HangUp(_) => 0,
                Event::Step(_) => 1,
                Event::Start(_) => 2,
                Event::Deliver(_) => 3,
                Event::QueueReady(_) => 4,
            };
            *events.iter().min_by_key(|e| rank(e)).expect("not empty")
        }
    }
}

fn handle(
    machine: &mut Machine,
    runs: &mut [Run],
    event: Event,
    removal: &mut Removal,
) -> Result<(), Error> {
    match event {
        Event::RemoveRoot(root) => {
            removal.announced = None;
            removal.removing = Some(root);
            Ok(())
        }
        Event::Start(i) | Event::Step(i) => step(machine, &mut runs[i]),
        Event::HangUp(i) => {
            runs[i].hang_up();
            step(machine, &mut runs[i])
        }
        Event::Deliver(serial) => deliver(machine, serial),
        Event::QueueReady(queue) => queue_ready(machine, queue),
    }
}

/// What each client got, or the streams that never finished.
fn results(
    machine: &Machine,
    runs: Vec<Run>,
    seed: Option<u64>,
) -> Result<Vec<ClientResponse>, Error> {
    let stuck: Vec<String> = runs
        .iter()
        .filter(|r| r.phase != Phase::Finished)
        .map(|r| {
            format!(
                "{} {} (context {}) paused in {:?}",
                r.request.method, r.request.path, r.id, r.phase
            )
        })
        .collect();
    if !stuck.is_empty() {
        return Err(Error::Stuck {
            streams: stuck,
            seed,
        });
    }
    let fuel = &machine.store.data().fuel;
    Ok(runs
        .into_iter()
        .map(|run| ClientResponse {
            fuel: fuel.get(&run.id).copied().unwrap_or(0),
            response: run.result.unwrap_or_else(|| Response::new(0)),
            upstream: run.upstream,
            hung_up: run.hung_up,
            context_id: run.id,
            details: run.details,
            properties: run.properties,
            chunks: run.received,
            upstream_reset: run.response_reset,
        })
        .collect())
}

fn stream(machine: &mut Machine, id: u32) -> &mut StreamData {
    machine.store.data_mut().streams.entry(id).or_default()
}

/// Runs the stream's current phase.
fn step(machine: &mut Machine, run: &mut Run) -> Result<(), Error> {
    match run.phase {
        Phase::Start => {
            start(machine, run)?;
            step(machine, run)
        }
        Phase::RequestHeaders => headers(machine, run, Direction::Request),
        Phase::RequestBody => body_chunk(machine, run, Direction::Request),
        Phase::RequestTrailers => trailers(machine, run, Direction::Request),
        Phase::Upstream => {
            upstream(machine, run);
            Ok(())
        }
        Phase::ResponseHeaders => headers(machine, run, Direction::Response),
        Phase::ResponseBody => body_chunk(machine, run, Direction::Response),
        Phase::ResponseTrailers => trailers(machine, run, Direction::Response),
        Phase::End => end(machine, run),
        Phase::Finished => Ok(()),
    }
}

/// A new stream: its context is created under its root, with the request
/// headers and the route's properties.
fn start(machine: &mut Machine, run: &mut Run) -> Result<(), Error> {
    let id = machine.next_context;
    machine.next_context += 1;
    run.id = id;
    let root = match run.request.root {
        Some(root) => root.0,
        None => machine.store.data().root_id,
    };
    let higress = machine.store.data().setup.higress_properties;
    let data = stream(machine, id);
    data.request_headers = run.request.header_map();
    data.root = root;
    for (name, value) in [
        ("route_name", &run.request.route),
        ("cluster_name", &run.request.cluster),
    ] {
        if let Some(value) = value {
            data.properties
                .insert(format!("xds.{name}"), value.clone().into_bytes());
            if higress {
                data.properties
                    .insert(name.to_string(), value.clone().into_bytes());
            }
        }
    }
    let create = machine.exports.on_context_create.clone();
    machine.call(
        "proxy_on_context_create",
        Some(create),
        id,
        Some(id),
        (id as i32, root as i32),
    )?;
    run.phase = Phase::RequestHeaders;
    Ok(())
}

/// Calls a headers or body callback of stream `id`: `count` headers or
/// `size` body bytes, and whether the message ends there.
fn call_data(
    machine: &mut Machine,
    (name, callback): DataCallback,
    id: u32,
    count: usize,
    eos: bool,
) -> Result<Option<i32>, Error> {
    machine.call(
        name,
        callback,
        id,
        Some(id),
        (id as i32, count as i32, eos as i32),
    )
}

/// The plugin sees `direction`'s headers.
fn headers(machine: &mut Machine, run: &mut Run, direction: Direction) -> Result<(), Error> {
    let id = run.id;
    let eos = run.ends_here(direction);
    let count = direction.headers(stream(machine, id)).len();
    let callback = machine.exports.on_headers(direction);
    let action = call_data(machine, callback, id, count, eos)?;
    after_phase(machine, run, action, true);
    Ok(())
}

/// The next chunk of `direction`'s body joins what the host buffers, and
/// the plugin sees it all.
fn body_chunk(machine: &mut Machine, run: &mut Run, direction: Direction) -> Result<(), Error> {
    let id = run.id;
    let chunk = run.chunks_left(direction).pop_front().unwrap_or_default();
    if direction == Direction::Response {
        run.response_delivered += 1;
    }
    let eos = run.ends_here(direction);
    let size = {
        let body = direction.body(stream(machine, id));
        body.extend(chunk);
        body.len()
    };
    let callback = machine.exports.on_body(direction);
    let action = call_data(machine, callback, id, size, eos)?;
    stream(machine, id).buffering[direction.index()] = action.is_some_and(|a| a != CONTINUE);
    after_phase(machine, run, action, eos);
    let hangs_up = run.request.hang_up_after == Some(run.response_delivered);
    if direction == Direction::Response
        && hangs_up
        && !matches!(run.phase, Phase::End | Phase::Finished)
    {
        run.hang_up();
    }
    Ok(())
}

/// The plugin sees `direction`'s trailers; a body the host did not buffer
/// cannot be written to meanwhile.
fn trailers(machine: &mut Machine, run: &mut Run, direction: Direction) -> Result<(), Error> {
    let id = run.id;
    let at = direction.index();
    let count = {
        let trailers = run.take_trailers(direction);
        let data = stream(machine, id);
        *direction.trailers(data) = trailers;
        data.no_body_buffer[at] = !data.buffering[at];
        direction.trailers(data).len()
    };
    let (name, callback) = machine.exports.on_trailers(direction);
    let action = machine.call(name, callback, id, Some(id), (id as i32, count as i32));
    stream(machine, id).no_body_buffer[at] = false;
    let action = action?;
    after_phase(machine, run, action, true);
    Ok(())
}

/// The request goes upstream; its answer begins the response.
fn upstream(machine: &mut Machine, run: &mut Run) {
    let upstream = machine.store.data().setup.upstream.clone();
    let data = stream(machine, run.id);
    let request = UpstreamRequest::from_header_map(
        &data.request_headers,
        std::mem::take(&mut run.request_sent),
    )
    .with_trailers(data.request_trailers.clone());
    let response = upstream(&request);
    run.upstream = Some(request);
    begin_response(machine, run, response);
}

/// After a phase callback: a local response, a continue, a pause, or (a
/// body chunk buffered) the next chunk.
fn after_phase(machine: &mut Machine, run: &mut Run, action: Option<i32>, at_end: bool) {
    let phase = run.phase;
    let data = stream(machine, run.id);
    let continued = match phase {
        _ if phase.is_request() => std::mem::take(&mut data.continue_request),
        _ => std::mem::take(&mut data.continue_response),
    };
    if take_local_response(machine, run) {
        return;
    }
    let allow_stop_iteration = machine.store.data().setup.allow_stop_iteration;
    if action.unwrap_or(CONTINUE) == CONTINUE || continued {
        advance(machine, run);
    } else if allow_stop_iteration
        && matches!(phase, Phase::RequestHeaders | Phase::ResponseHeaders)
        && has_more(run, phase)
    {
        // The headers wait (still changeable); the body comes on to the
        // plugin meanwhile, and both go on when it continues.
        run.phase = match phase {
            Phase::RequestHeaders if !run.request_chunks.is_empty() => Phase::RequestBody,
            Phase::RequestHeaders => Phase::RequestTrailers,
            _ if !run.response_chunks.is_empty() => Phase::ResponseBody,
            _ => Phase::ResponseTrailers,
        };
    } else if !at_end {
        // A body chunk the plugin buffers: the next one comes, or the
        // trailers, with the body still buffered.
        match phase {
            Phase::RequestBody if run.request_chunks.is_empty() => {
                run.phase = Phase::RequestTrailers
            }
            Phase::ResponseBody if run.response_chunks.is_empty() && run.response_reset => {
                run.phase = Phase::End
            }
            Phase::ResponseBody if run.response_chunks.is_empty() => {
                run.phase = Phase::ResponseTrailers
            }
            _ => {}
        }
    } else {
        run.waiting = true;
    }
}

/// Whether a message has more than its headers still to come.
fn has_more(run: &Run, phase: Phase) -> bool {
    match phase {
        Phase::RequestHeaders => !run.request_chunks.is_empty() || !run.request.trailers.is_empty(),
        _ => !run.response_chunks.is_empty() || !run.response_trailers.is_empty(),
    }
}

/// A stream that waits: resumed, or answered locally? And a stream in the
/// middle of a body that the plugin resumed (held chunks released while
/// more are to come): what it buffered goes on now, as in Envoy.
fn settle_waiting(machine: &mut Machine, run: &mut Run) {
    if matches!(run.phase, Phase::End | Phase::Finished | Phase::Start) {
        return;
    }
    let in_body = matches!(
        run.phase,
        Phase::RequestBody | Phase::RequestTrailers | Phase::ResponseBody | Phase::ResponseTrailers
    );
    if !run.waiting && !in_body {
        return;
    }
    if run.waiting && run.request.hang_up {
        // Its client hangs up before it can move on (a `HangUp` event).
        return;
    }
    if take_local_response(machine, run) {
        return;
    }
    let data = stream(machine, run.id);
    let resumed = if run.phase.is_request() {
        std::mem::take(&mut data.continue_request)
    } else {
        std::mem::take(&mut data.continue_response)
    };
    if !resumed {
        return;
    }
    if run.waiting {
        run.waiting = false;
        advance(machine, run);
    } else if run.phase.is_request() {
        // Held headers (if any) go on with the body so far.
        data.request_headers_sent = true;
        run.request_sent.append(&mut data.request_body);
    } else {
        data.response_headers_sent = true;
        let mut body = std::mem::take(&mut data.response_body);
        send_response_data(run, &mut body);
    }
}

/// Response body bytes go on to the client.
fn send_response_data(run: &mut Run, data: &mut Vec<u8>) {
    if data.is_empty() {
        return;
    }
    run.received.push(ReceivedChunk {
        bytes: data.clone(),
        upstream_chunks_sent: run.response_delivered,
    });
    run.response_sent.append(data);
}

fn take_local_response(machine: &mut Machine, run: &mut Run) -> bool {
    let data = stream(machine, run.id);
    let Some(local) = data.local_response.take() else {
        return false;
    };
    run.waiting = false;
    if run.phase.is_request() && !run.local {
        run.local = true;
        run.request_chunks.clear();
        begin_response(machine, run, local);
    } else if run.phase.is_response() && !run.local {
        data.response_headers = local.header_map();
        data.response_body.clear();
        data.response_trailers.clear();
        run.response_chunks.clear();
        run.response_trailers.clear();
        run.response_reset = false;
        run.received.clear();
        run.response_sent.clear();
        let mut body = local.body;
        send_response_data(run, &mut body);
        run.phase = Phase::End;
    }
    true
}

fn begin_response(machine: &mut Machine, run: &mut Run, response: Response) {
    let data = stream(machine, run.id);
    data.response_headers = response.header_map();
    data.request_headers_sent = true;
    run.response_chunks = match response.chunks {
        Some(chunks) => chunks.into_iter().filter(|c| !c.is_empty()).collect(),
        None => chunks(&response.body, None),
    };
    run.response_trailers = response.trailers.into_bytes();
    if let Some(after) = response.reset_after {
        run.response_chunks.truncate(after);
        run.response_trailers.clear();
        run.response_reset = true;
    }
    run.phase = Phase::ResponseHeaders;
}

/// The current phase let its data through.
fn advance(machine: &mut Machine, run: &mut Run) {
    let data = stream(machine, run.id);
    run.phase = match run.phase {
        Phase::RequestHeaders | Phase::RequestBody => {
            data.request_headers_sent = true;
            // The body so far goes on (nothing, after the headers).
            run.request_sent.append(&mut data.request_body);
            if !run.request_chunks.is_empty() {
                Phase::RequestBody
            } else if !run.request.trailers.is_empty() {
                Phase::RequestTrailers
            } else {
                Phase::Upstream
            }
        }
        Phase::RequestTrailers => {
            // The buffered body goes on with the trailers (and the
            // headers, if they were held).
            data.request_headers_sent = true;
            run.request_sent.append(&mut data.request_body);
            Phase::Upstream
        }
        Phase::ResponseHeaders | Phase::ResponseBody => {
            data.response_headers_sent = true;
            send_response_data(run, &mut data.response_body);
            if !run.response_chunks.is_empty() {
                Phase::ResponseBody
            } else if !run.response_trailers.is_empty() {
                Phase::ResponseTrailers
            } else {
                Phase::End
            }
        }
        Phase::ResponseTrailers => {
            data.response_headers_sent = true;
            send_response_data(run, &mut data.response_body);
            Phase::End
        }
        other => other,
    };
}

/// The stream's end: `on_log`, `on_done`, `on_delete`; callouts the stream
/// itself made are cancelled, as a gateway does.
fn end(machine: &mut Machine, run: &mut Run) -> Result<(), Error> {
    let id = run.id;
    let (on_log, on_done, on_delete) = (
        machine.exports.on_log.clone(),
        machine.exports.on_done.clone(),
        machine.exports.on_delete.clone(),
    );
    machine.call("proxy_on_log", on_log, id, Some(id), id as i32)?;
    machine.call("proxy_on_done", on_done, id, Some(id), id as i32)?;
    machine.call("proxy_on_delete", on_delete, id, Some(id), id as i32)?;
    let state = machine.store.data_mut();
    let data = state.streams.remove(&id).unwrap_or_default();
    state.pending.retain(|p| p.context != id);
    run.details = data.response_code_details;
    run.properties = data.properties;
    run.result = Some(if run.hung_up {
        Response::new(0)
    } else {
        let mut response = Response::from_header_map(
            &data.response_headers,
            std::mem::take(&mut run.response_sent),
        );
        response.trailers = data.response_trailers.into_iter().collect();
        response
    });
    run.phase = Phase::Finished;
    Ok(())
}
