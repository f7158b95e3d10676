//! Per-key ordered work with parking: the head of each key's queue is handed out once; when its
//! attempt must wait (a retry), the key is parked until then and only that key's later events
//! wait behind it. Every other key keeps flowing.
//!
//! Tenants take turns, one event each, so a tenant with a long backlog does not starve one with
//! a few events; within a tenant the oldest event goes first (one worker delivers a tenant's
//! events in input order). A tenant may have at most `per_tenant` events in flight: an account's
//! rate limit makes more useless, and each would hold a sandbox. Until a tenant's first event
//! is done it has one: its first events would otherwise each look up (and create) what the
//! first is about to cache. The queue holds at most
//! `capacity` events, so a reader that pushes a long stream blocks instead of buffering it all.
//!
//! Both kinds of worker take from it: threads (`next`, `next_batch`, blocking) and async tasks
//! (`next_async`, `next_batch_async`, waiting without a thread).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::OrderKey;

/// How many events of one tenant may be in flight at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TenantLimit {
    pub in_flight: usize,
    /// Until the tenant's first event is done (e.g. the events of one call).
    pub until_warm: usize,
}

impl TenantLimit {
    pub const NONE: TenantLimit = TenantLimit {
        in_flight: usize::MAX,
        until_warm: usize::MAX,
    };
}

pub struct KeyedQueue<T> {
    state: Mutex<State<T>>,
    /// A key became ready, a parked key came due, or the queue was closed.
    work: Condvar,
    /// Events finished: a full queue has room again.
    room: Condvar,
    /// Nothing is held any more.
    drained: Condvar,
    /// `work`, for async workers.
    changed: Notify,
    capacity: usize,
}

struct State<T> {
    /// Each key's events with their push sequence numbers, oldest first.
    keys: HashMap<OrderKey, VecDeque<(u64, T)>>,
    /// Per tenant, the keys whose head can be handed out, by the head's sequence number
    /// (oldest first).
    ready: HashMap<String, BinaryHeap<Reverse<(u64, OrderKey)>>>,
    /// The tenants with ready keys and room in flight, in turn order: each gives one event,
    /// then goes to the back.
    turns: VecDeque<String>,
    /// Events handed out and not yet done or retried, per tenant (absent: none).
    in_flight: HashMap<String, usize>,
    limit: TenantLimit,
    /// Tenants with an event done: they have their full limit.
    warmed: HashSet<String>,
    pushed: u64,
    /// Keys whose head waits for a retry, by when.
    parked: BinaryHeap<Reverse<(Instant, OrderKey)>>,
    /// Events pushed and not yet finished (queued, parked or in flight).
    held: usize,
    closed: bool,
    /// Stopped: nothing more is handed out, even what is still held.
    stopped: bool,
    /// Threads blocked on `work`, `room` and `drained`: a condvar is notified only when someone
    /// waits (std's notify is a syscall either way, several per event otherwise).
    sleeping_workers: usize,
    sleeping_readers: usize,
    sleeping_drainers: usize,
}

impl<T> KeyedQueue<T> {
    /// A queue of at most `capacity` events, with no limit per tenant.
    pub fn new(capacity: usize) -> KeyedQueue<T> {
        KeyedQueue::with_tenant_limit(capacity, TenantLimit::NONE)
    }

    /// A queue of at most `capacity` events, handing out a tenant's events within `limit`.
    pub fn with_tenant_limit(capacity: usize, limit: TenantLimit) -> KeyedQueue<T> {
        KeyedQueue {
            state: Mutex::new(State {
                keys: HashMap::new(),
                ready: HashMap::new(),
                turns: VecDeque::new(),
                in_flight: HashMap::new(),
                limit: TenantLimit {
                    in_flight: limit.in_flight.max(1),
                    until_warm: limit.until_warm.max(1),
                },
                warmed: HashSet::new(),
                pushed: 0,
                parked: BinaryHeap::new(),
                held: 0,
                closed: false,
                stopped: false,
                sleeping_workers: 0,
                sleeping_readers: 0,
                sleeping_drainers: 0,
            }),
            work: Condvar::new(),
            room: Condvar::new(),
            drained: Condvar::new(),
            changed: Notify::new(),
            capacity: capacity.max(1),
        }
    }

    /// After a worker took an event: when more is ready, it wakes the next worker (who does
    /// the same), instead of every change waking every worker.
    fn pass_on(&self, state: &State<T>) {
        if !state.turns.is_empty() {
            self.wake_one(state);
        }
    }

    /// A key became ready: one worker may take it.
    fn wake_one(&self, state: &State<T>) {
        if state.sleeping_workers > 0 {
            self.work.notify_one();
        }
        self.changed.notify_one();
    }

    fn wake_all(&self, state: &State<T>) {
        if state.sleeping_workers > 0 {
            self.work.notify_all();
        }
        self.changed.notify_waiters();
    }

    /// An event finished or was taken out: a blocked reader may push once the queue has
    /// drained to the refill mark (or at once, with `all`).
    fn make_room(&self, state: &State<T>, all: bool) {
        if state.sleeping_readers > 0 && (all || state.held <= self.refill_mark()) {
            self.room.notify_all();
        }
        if state.sleeping_drainers > 0 && state.held == 0 {
            self.drained.notify_all();
        }
    }

    /// A full queue takes pushes again at this many events held: a blocked reader then pushes
    /// a quarter of the capacity in one go, instead of waking for every event that finishes.
    fn refill_mark(&self) -> usize {
        self.capacity - (self.capacity / 4).max(1)
    }

    /// Blocks on `work` (at most `timeout`), counted as a sleeping worker.
    fn sleep<'a>(
        &self,
        mut state: MutexGuard<'a, State<T>>,
        timeout: Option<Duration>,
    ) -> MutexGuard<'a, State<T>> {
        state.sleeping_workers += 1;
        let mut state = match timeout {
            Some(timeout) => {
                self.work
                    .wait_timeout(state, timeout)
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .0
            }
            None => self
                .work
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        };
        state.sleeping_workers -= 1;
        state
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds an event behind the earlier ones of its key; blocks while the queue is full.
    pub fn push(&self, key: OrderKey, job: T) {
        let mut state = self.lock();
        if state.held >= self.capacity {
            state.sleeping_readers += 1;
            while state.held > self.refill_mark() {
                state = self
                    .room
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
            state.sleeping_readers -= 1;
        }
        state.held += 1;
        state.pushed += 1;
        let sequence = state.pushed;
        match state.keys.get_mut(&key) {
            Some(jobs) => jobs.push_back((sequence, job)),
            None => {
                state
                    .keys
                    .insert(key.clone(), VecDeque::from([(sequence, job)]));
                state.mark_ready(sequence, key);
                self.wake_one(&state);
            }
        }
    }

    /// No more pushes: `next` returns `None` once everything held has finished.
    pub fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        self.wake_all(&state);
    }

    /// Stops the queue (a drain: the source was interrupted): nothing more is handed out, and
    /// every event not in flight (queued or parked) is taken out and returned, oldest first, for
    /// the source to account for. Events in flight still finish with `done` or `retry`; one
    /// that is retried stays held, for a later `stop` to return.
    pub fn stop(&self) -> Vec<(OrderKey, T)> {
        let mut state = self.lock();
        state.closed = true;
        state.stopped = true;
        state.ready.clear();
        state.turns.clear();
        state.parked.clear();
        let mut taken: Vec<(u64, OrderKey, T)> = Vec::new();
        for (key, jobs) in state.keys.drain() {
            taken.extend(
                jobs.into_iter()
                    .map(|(sequence, job)| (sequence, key.clone(), job)),
            );
        }
        taken.sort_by_key(|(sequence, _, _)| *sequence);
        state.held = state.held.saturating_sub(taken.len());
        self.wake_all(&state);
        self.make_room(&state, true);
        taken.into_iter().map(|(_, key, job)| (key, job)).collect()
    }

    /// The next event whose key is free, waiting for one (or for a parked key to come due).
    /// `None` when the queue is closed and empty, or stopped.
    pub fn next(&self) -> Option<(OrderKey, T)> {
        let mut state = self.lock();
        loop {
            state = match state.take_next() {
                Take::Done(next) => {
                    self.pass_on(&state);
                    return next;
                }
                Take::WaitAtMost(wait) => self.sleep(state, Some(wait)),
                Take::Wait => self.sleep(state, None),
            };
        }
    }

    /// [`KeyedQueue::next`] for async workers: waits without holding a thread.
    pub async fn next_async(&self) -> Option<(OrderKey, T)> {
        loop {
            // Registered before looking, so a wake between the look and the wait is not lost.
            let changed = self.changed.notified();
            let mut changed = std::pin::pin!(changed);
            changed.as_mut().enable();
            let take = {
                let mut state = self.lock();
                let take = state.take_next();
                self.pass_on(&state);
                take
            };
            match take {
                Take::Done(next) => return next,
                Take::WaitAtMost(wait) => {
                    let _ = tokio::time::timeout(wait, changed).await;
                }
                Take::Wait => changed.await,
            }
        }
    }

    /// Up to `max` events of one tenant, one per key (a key's later events wait for its
    /// earlier ones to finish): the event `next` would give, then further ready events of the
    /// same tenant, oldest first, waiting up to `wait` for the batch to fill. `None` when the
    /// queue is closed and empty. Each event handed out is finished with `done` or `retry`.
    pub fn next_batch(&self, max: usize, wait: Duration) -> Option<Vec<(OrderKey, T)>> {
        let first = self.next()?;
        let deadline = Instant::now() + wait;
        let mut batch = vec![first];
        let mut state = self.lock();
        loop {
            let now = Instant::now();
            if state.fill_batch(&mut batch, max, now >= deadline) {
                return Some(batch);
            }
            state = self.sleep(state, Some(deadline - now));
        }
    }

    /// [`KeyedQueue::next_batch`] for async workers: waits without holding a thread.
    pub async fn next_batch_async(&self, max: usize, wait: Duration) -> Option<Vec<(OrderKey, T)>> {
        let first = self.next_async().await?;
        let deadline = Instant::now() + wait;
        let mut batch = vec![first];
        loop {
            let changed = self.changed.notified();
            let mut changed = std::pin::pin!(changed);
            changed.as_mut().enable();
            let now = Instant::now();
            if self.lock().fill_batch(&mut batch, max, now >= deadline) {
                return Some(batch);
            }
            let _ = tokio::time::timeout(deadline - now, changed).await;
        }
    }

    /// The event handed out for `key` finished: the key's next event (if any) becomes ready.
    pub fn done(&self, key: OrderKey) {
        let mut state = self.lock();
        state.held = state.held.saturating_sub(1);
        if state.land(key.tenant(), true) {
            self.wake_one(&state);
        }
        let more = state.keys.get(&key).is_some_and(|jobs| !jobs.is_empty());
        if state.stopped {
            self.make_room(&state, false);
            self.wake_all(&state);
            return;
        }
        if more {
            state.make_ready(key);
            self.wake_one(&state);
        } else {
            state.keys.remove(&key);
        }
        // The last one out wakes everyone waiting for room, and whoever waits for the drain.
        self.make_room(&state, state.held == 0);
        if state.closed && state.held == 0 {
            // Drained after `close`: every waiting worker may stop.
            self.wake_all(&state);
        }
    }

    /// The event handed out for `key` is tried again at `at`; until then its key is parked and
    /// the key's later events wait behind it.
    pub fn retry(&self, key: OrderKey, job: T, at: Instant) {
        let mut state = self.lock();
        state.land(key.tenant(), false);
        // Back at the head, with a sequence number before its key's later events.
        match state.keys.get_mut(&key) {
            Some(jobs) => {
                let sequence = jobs.front().map_or(0, |(next, _)| next.saturating_sub(1));
                jobs.push_front((sequence, job));
            }
            // Stopped meanwhile (its key's queue was taken out): kept for the next `stop`.
            None => {
                state.keys.insert(key.clone(), VecDeque::from([(0, job)]));
            }
        }
        state.parked.push(Reverse((at, key)));
        // A waiting worker looks again, to wake when the key comes due.
        self.wake_one(&state);
    }

    /// Events held: queued, parked or in flight.
    pub fn held(&self) -> usize {
        self.lock().held
    }

    /// Waits until nothing is held, at most `timeout`; whether nothing is held.
    pub fn wait_drained(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        while state.held > 0 {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state.sleeping_drainers += 1;
            state = self
                .drained
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
            state.sleeping_drainers -= 1;
        }
        true
    }
}

/// What a look at the queue found for a worker.
enum Take<T> {
    /// An event to attempt, or `None`: the queue is closed and empty, or stopped.
    Done(Option<(OrderKey, T)>),
    /// Nothing ready; a parked key comes due after this long.
    WaitAtMost(Duration),
    /// Nothing ready and nothing parked.
    Wait,
}

impl<T> State<T> {
    /// The next event whose key is free, or how long to wait for one.
    fn take_next(&mut self) -> Take<T> {
        if self.stopped {
            return Take::Done(None);
        }
        let now = Instant::now();
        self.release_due(now);
        if let Some(tenant) = self.turns.pop_front() {
            let key = self
                .pop_ready(&tenant)
                .expect("a tenant in turn has a ready key");
            if self.take_off(&tenant) {
                self.turns.push_back(tenant);
            }
            let (_, job) = self
                .keys
                .get_mut(&key)
                .and_then(VecDeque::pop_front)
                .expect("a ready key has a head");
            return Take::Done(Some((key, job)));
        }
        if self.closed && self.held == 0 {
            return Take::Done(None);
        }
        match self.parked.peek() {
            Some(Reverse((due, _))) => Take::WaitAtMost(due.saturating_duration_since(now)),
            None => Take::Wait,
        }
    }

    /// Adds ready events of the batch's tenant (one per key, oldest first) up to `max`; true
    /// when the batch is to go now: full, its wait `over`, or the queue closed.
    fn fill_batch(&mut self, batch: &mut Vec<(OrderKey, T)>, max: usize, over: bool) -> bool {
        let tenant = batch[0].0.tenant().to_string();
        self.release_due(Instant::now());
        while batch.len() < max && self.has_room(&tenant) {
            let Some(key) = self.pop_ready(&tenant) else {
                break;
            };
            self.take_off(&tenant);
            let (_, job) = self
                .keys
                .get_mut(&key)
                .and_then(VecDeque::pop_front)
                .expect("a ready key has a head");
            batch.push((key, job));
        }
        if !(self.ready.contains_key(&tenant) && self.has_room(&tenant)) {
            self.turns.retain(|turn| *turn != tenant);
        }
        batch.len() >= max || over || self.closed
    }

    /// Makes the parked keys whose time has come ready again.
    fn release_due(&mut self, now: Instant) {
        while let Some(Reverse((due, _))) = self.parked.peek() {
            if *due > now {
                break;
            }
            let Some(Reverse((_, key))) = self.parked.pop() else {
                break;
            };
            self.make_ready(key);
        }
    }

    /// Queues `key` to be handed out, ordered by its head event's age.
    fn make_ready(&mut self, key: OrderKey) {
        if let Some(&(sequence, _)) = self.keys.get(&key).and_then(VecDeque::front) {
            self.mark_ready(sequence, key);
        }
    }

    /// `key`, whose head is event `sequence`, can be handed out; its tenant joins the turns
    /// (when it has room in flight).
    fn mark_ready(&mut self, sequence: u64, key: OrderKey) {
        let tenant = key.tenant();
        match self.ready.get_mut(tenant) {
            Some(keys) => keys.push(Reverse((sequence, key))),
            None => {
                let tenant = tenant.to_string();
                if self.has_room(&tenant) {
                    self.turns.push_back(tenant.clone());
                }
                self.ready
                    .insert(tenant, BinaryHeap::from([Reverse((sequence, key))]));
            }
        }
    }

    fn has_room(&self, tenant: &str) -> bool {
        let limit = if self.warmed.contains(tenant) {
            self.limit.in_flight
        } else {
            self.limit.until_warm
        };
        self.in_flight.get(tenant).copied().unwrap_or(0) < limit
    }

    /// One more event of `tenant` handed out; true when the tenant keeps its turn (it has
    /// ready keys and room in flight).
    fn take_off(&mut self, tenant: &str) -> bool {
        *self.in_flight.entry(tenant.to_string()).or_insert(0) += 1;
        self.ready.contains_key(tenant) && self.has_room(tenant)
    }

    /// An event of `tenant` is no longer in flight (`done`: finished, which warms the tenant);
    /// true when that gave the tenant back its turn (it was at its limit with ready keys).
    fn land(&mut self, tenant: &str, done: bool) -> bool {
        let was_full = !self.has_room(tenant);
        let Some(count) = self.in_flight.get_mut(tenant) else {
            return false;
        };
        *count -= 1;
        if *count == 0 {
            self.in_flight.remove(tenant);
        }
        if done && !self.warmed.contains(tenant) {
            self.warmed.insert(tenant.to_string());
        }
        let back =
            was_full && self.has_room(tenant) && self.ready.contains_key(tenant) && !self.stopped;
        if back {
            self.turns.push_back(tenant.to_string());
        }
        back
    }

    /// The oldest ready key of `tenant`; a tenant left with none leaves `ready` (the caller
    /// keeps `turns` in step).
    fn pop_ready(&mut self, tenant: &str) -> Option<OrderKey> {
        let keys = self.ready.get_mut(tenant)?;
        let Reverse((_, key)) = keys.pop()?;
        if keys.is_empty() {
            self.ready.remove(tenant);
        }
        Some(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    fn key(user: &str) -> OrderKey {
        OrderKey::of("t", &json!({ "userId": user }))
    }

    #[test]
    fn a_reader_blocked_on_a_full_queue_resumes_at_the_refill_mark() {
        let queue = Arc::new(KeyedQueue::new(8));
        for user in 0..8 {
            queue.push(key(&user.to_string()), user);
        }
        let reader = {
            let queue = queue.clone();
            std::thread::spawn(move || queue.push(key("late"), 8))
        };
        while queue.lock().sleeping_readers == 0 {
            std::thread::yield_now();
        }
        let taken: Vec<_> = (0..2).map(|_| queue.next().unwrap()).collect();
        // One slot free is not enough: the reader sleeps on until a quarter is free.
        queue.done(taken[0].0.clone());
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(queue.held(), 7);
        assert!(!reader.is_finished());
        queue.done(taken[1].0.clone());
        reader.join().unwrap();
        assert_eq!(queue.held(), 7);
    }

    #[test]
    fn a_parked_key_holds_back_only_its_own_events() {
        let queue = KeyedQueue::new(100);
        queue.push(key("a"), "a1");
        queue.push(key("a"), "a2");
        queue.push(key("b"), "b1");
        queue.push(key("b"), "b2");
        let (k, job) = queue.next().unwrap();
        assert_eq!(job, "a1");
        queue.retry(k, job, Instant::now() + Duration::from_millis(200));
        // While `a` is parked, `b` flows.
        let (k, job) = queue.next().unwrap();
        assert_eq!(job, "b1");
        queue.done(k);
        let (k, job) = queue.next().unwrap();
        assert_eq!(job, "b2");
        queue.done(k);
        // Then `a1` again (after its wait), and only then `a2`.
        let started = Instant::now();
        let (k, job) = queue.next().unwrap();
        assert_eq!(job, "a1");
        assert!(started.elapsed() >= Duration::from_millis(150));
        queue.done(k);
        let (k, job) = queue.next().unwrap();
        assert_eq!(job, "a2");
        queue.done(k);
        queue.close();
        assert!(queue.next().is_none());
    }

    #[test]
    fn a_stop_returns_everything_not_in_flight_and_then_the_late_retries() {
        let queue = KeyedQueue::new(100);
        for job in ["a1", "b1", "a2", "c1"] {
            queue.push(key(&job[..1]), job);
        }
        let (a, a1) = queue.next().unwrap();
        let (b, b1) = queue.next().unwrap();
        assert_eq!((a1, b1), ("a1", "b1"));
        queue.retry(b, b1, Instant::now() + Duration::from_secs(60));
        let taken: Vec<_> = queue.stop().into_iter().map(|(_, job)| job).collect();
        // Queued and parked, oldest first; `a1` is in flight.
        assert_eq!(taken, vec!["b1", "a2", "c1"]);
        assert!(queue.next().is_none(), "nothing more is handed out");
        assert_eq!(queue.held(), 1);
        // The in-flight event must wait again: the next stop returns it.
        queue.retry(a, a1, Instant::now());
        assert_eq!(
            queue.stop().into_iter().map(|(_, j)| j).collect::<Vec<_>>(),
            vec!["a1"]
        );
        assert_eq!(queue.held(), 0);
    }

    #[test]
    fn one_worker_takes_the_oldest_event_first() {
        let queue = KeyedQueue::new(100);
        for (user, job) in [("a", 1), ("a", 2), ("b", 3), ("a", 4), ("c", 5)] {
            queue.push(key(user), job);
        }
        queue.close();
        let mut order = Vec::new();
        while let Some((k, job)) = queue.next() {
            order.push(job);
            queue.done(k);
        }
        assert_eq!(order, vec![1, 2, 3, 4, 5]);
    }

    fn tenant_key(tenant: &str, user: &str) -> OrderKey {
        OrderKey::of(tenant, &json!({ "userId": user }))
    }

    #[test]
    fn tenants_take_turns_so_a_backlog_does_not_starve_a_small_tenant() {
        let queue = KeyedQueue::new(1000);
        for n in 0..100 {
            queue.push(tenant_key("big", &format!("u{n}")), format!("big-{n}"));
        }
        for n in 0..3 {
            queue.push(tenant_key("small", &format!("u{n}")), format!("small-{n}"));
        }
        queue.close();
        let mut order = Vec::new();
        while let Some((k, job)) = queue.next() {
            order.push(job);
            queue.done(k);
        }
        assert_eq!(
            &order[..6],
            ["big-0", "small-0", "big-1", "small-1", "big-2", "small-2"]
        );
        assert_eq!(order.len(), 103);
        assert_eq!(
            order[6..],
            (3..100).map(|n| format!("big-{n}")).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_tenant_has_at_most_its_limit_in_flight() {
        let limit = TenantLimit {
            in_flight: 2,
            until_warm: 1,
        };
        let queue = KeyedQueue::with_tenant_limit(1000, limit);
        for n in 0..5 {
            queue.push(tenant_key("big", &format!("u{n}")), format!("big-{n}"));
        }
        queue.push(tenant_key("small", "u"), "small-0".to_string());
        let (a, first) = queue.next().unwrap();
        let (s, second) = queue.next().unwrap();
        // Until its first event is done, a tenant has one in flight.
        let take = queue.lock().take_next();
        assert!(matches!(take, Take::Wait), "both tenants warm up");
        assert_eq!([first, second], ["big-0", "small-0"]);
        queue.done(s);
        queue.done(a);
        let (a, first) = queue.next().unwrap();
        let (b, second) = queue.next().unwrap();
        assert_eq!([first, second], ["big-1", "big-2"]);
        // `big` has 2 in flight: nothing more of it until one lands.
        let take = queue.lock().take_next();
        assert!(matches!(take, Take::Wait), "big is at its limit");
        queue.done(a);
        assert_eq!(queue.next().unwrap().1, "big-3");
        // A retry lands too (the event waits parked, not in flight).
        queue.retry(
            b,
            "big-2".to_string(),
            Instant::now() + Duration::from_secs(60),
        );
        assert_eq!(queue.next().unwrap().1, "big-4");
        let take = queue.lock().take_next();
        assert!(
            matches!(take, Take::WaitAtMost(_)),
            "at the limit again, big-1 parked"
        );
    }

    #[test]
    fn async_workers_share_the_queue_without_threads() {
        let queue = Arc::new(KeyedQueue::new(1000));
        let io = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let taken = io.block_on(async {
            let workers: Vec<_> = (0..50)
                .map(|_| {
                    let queue = Arc::clone(&queue);
                    tokio::spawn(async move {
                        let mut taken = Vec::new();
                        while let Some((k, job)) = queue.next_async().await {
                            // A retry for every tenth event, once.
                            if job % 10 == 0 && !taken.contains(&job) {
                                taken.push(job);
                                queue.retry(k, job, Instant::now() + Duration::from_millis(20));
                                continue;
                            }
                            tokio::time::sleep(Duration::from_millis(1)).await;
                            taken.push(job);
                            queue.done(k);
                        }
                        taken
                    })
                })
                .collect();
            tokio::task::yield_now().await;
            for n in 0..500 {
                queue.push(tenant_key("t", &format!("u{}", n % 7)), n);
            }
            queue.close();
            let mut all = Vec::new();
            for worker in workers {
                all.extend(worker.await.unwrap());
            }
            all
        });
        let mut done: Vec<i32> = taken;
        done.sort_unstable();
        done.dedup();
        assert_eq!(
            done,
            (0..500).collect::<Vec<_>>(),
            "every event finished once"
        );
        assert_eq!(queue.held(), 0);
    }

    #[test]
    fn a_batch_holds_one_event_per_key_of_one_tenant() {
        let queue = KeyedQueue::new(100);
        queue.push(tenant_key("t", "a"), "a1");
        queue.push(tenant_key("t", "a"), "a2");
        queue.push(tenant_key("other", "x"), "x1");
        queue.push(tenant_key("t", "b"), "b1");
        queue.push(tenant_key("t", "c"), "c1");
        let batch = queue.next_batch(10, Duration::ZERO).unwrap();
        let jobs: Vec<_> = batch.iter().map(|(_, job)| *job).collect();
        assert_eq!(jobs, vec!["a1", "b1", "c1"]);
        // The other tenant's event comes next, in a batch of its own; `a2` waits for `a1`.
        let other = queue.next_batch(10, Duration::ZERO).unwrap();
        assert_eq!(
            other.iter().map(|(_, j)| *j).collect::<Vec<_>>(),
            vec!["x1"]
        );
        for (key, _) in batch.into_iter().chain(other) {
            queue.done(key);
        }
        let batch = queue.next_batch(2, Duration::ZERO).unwrap();
        assert_eq!(
            batch.iter().map(|(_, j)| *j).collect::<Vec<_>>(),
            vec!["a2"]
        );
    }

    #[test]
    fn a_batch_waits_for_more_events_up_to_its_age() {
        let queue = Arc::new(KeyedQueue::new(100));
        queue.push(tenant_key("t", "a"), 1);
        let pusher = {
            let queue = Arc::clone(&queue);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(30));
                queue.push(tenant_key("t", "b"), 2);
            })
        };
        let started = Instant::now();
        let batch = queue.next_batch(2, Duration::from_secs(5)).unwrap();
        assert_eq!(batch.len(), 2, "filled by the later push");
        assert!(started.elapsed() < Duration::from_secs(2));
        pusher.join().unwrap();
        let started = Instant::now();
        queue.push(tenant_key("t", "c"), 3);
        let batch = queue.next_batch(5, Duration::from_millis(50)).unwrap();
        assert_eq!(batch.len(), 1);
        assert!(
            started.elapsed() >= Duration::from_millis(45),
            "waited for its age"
        );
    }

    #[test]
    fn a_full_queue_blocks_the_reader_until_an_event_finishes() {
        let queue = Arc::new(KeyedQueue::new(2));
        queue.push(key("a"), 1);
        queue.push(key("b"), 2);
        let reader = {
            let queue = Arc::clone(&queue);
            std::thread::spawn(move || queue.push(key("c"), 3))
        };
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(queue.held(), 2, "the third push waits");
        let (k, _) = queue.next().unwrap();
        queue.done(k);
        reader.join().unwrap();
        assert_eq!(queue.held(), 2);
    }

    #[test]
    fn the_drain_is_waited_for_until_the_last_event_ends() {
        let queue = Arc::new(KeyedQueue::new(4));
        queue.push(key("a"), 1);
        assert!(
            !queue.wait_drained(Duration::from_millis(20)),
            "one is held"
        );
        let (k, _) = queue.next().unwrap();
        let finisher = {
            let queue = Arc::clone(&queue);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                queue.done(k);
            })
        };
        let started = Instant::now();
        assert!(queue.wait_drained(Duration::from_secs(10)));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "woken, not timed out"
        );
        finisher.join().unwrap();
    }
}
