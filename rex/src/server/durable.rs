//! Durable rooms: the [`Durable`] trait an app implements to survive a
//! restart, and how a room is opened from its store.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rex_proto::{Epoch, EventIndex};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::actor::{Actor, Commits, SaveState};
use super::app::{app_id, Context, RexApp};
use super::dedupe::Dedupe;
use super::log::{Entry, EventLog, Retention};
use super::session::{SessionMap, SessionTable};
use super::store::{Loaded, RoomMeta, Store, StoreError};

/// An app whose state survives a restart of its server.
///
/// With a store ([`ServerBuilder::data_dir`](crate::ServerBuilder::data_dir)),
/// the server saves [`state`](Durable::state) with every group commit,
/// in the same atomic write as the events, sessions and message outcomes
/// of the calls it covers. A restarted server loads it, calls
/// [`restore`](Durable::restore) instead of [`RexApp::start`], and the
/// app is exactly what it was after the last answered call.
///
/// Keep in `State` what the game is (scores, the question, whose turn it
/// is), and leave out what the process is (channels to a TUI, a question
/// bank loaded from a file): those live in the app value the server was
/// built with, which `restore` fills in. The state is saved as JSON.
///
/// Scheduled work ([`Context::after`]) is not saved: `restore` re-arms it
/// from the state. The log clock ([`Context::elapsed`], each event's
/// `time`) continues across the restart, so a deadline kept as log time
/// (`cx.elapsed()` when it was set, plus its length) is re-armed for what
/// is left of it, or at once if it passed while the server was down.
///
/// ```
/// use std::time::Duration;
/// use rex::{Context, Durable, Reject, RexApp, RexEvent, RexMessage, SessionId};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(RexMessage)]
/// #[rex(app = "egg-timer", events = Ev)]
/// pub enum Msg {
///     /// Rings after `secs` seconds.
///     Set { secs: u64 },
/// }
///
/// #[derive(RexEvent)]
/// pub enum Ev {
///     Rang,
/// }
///
/// #[derive(Default, Serialize, Deserialize)]
/// struct Timer {
///     /// When it rings, as log time in milliseconds.
///     rings_at_ms: Option<u64>,
/// }
///
/// #[derive(Default)]
/// struct EggTimer {
///     timer: Timer,
/// }
///
/// impl EggTimer {
///     fn arm(&mut self, cx: &mut Context<'_, Self>) {
///         if let Some(at) = self.timer.rings_at_ms {
///             let now = cx.elapsed().as_millis() as u64;
///             cx.after(Duration::from_millis(at.saturating_sub(now)), |app, cx| {
///                 app.timer.rings_at_ms = None;
///                 cx.emit(Ev::Rang);
///             });
///         }
///     }
/// }
///
/// impl RexApp for EggTimer {
///     type Protocol = Msg;
/// }
///
/// impl Durable for EggTimer {
///     type State = Timer;
///
///     fn state(&self) -> &Timer {
///         &self.timer
///     }
///
///     fn restore(&mut self, cx: &mut Context<'_, Self>, state: Timer) {
///         self.timer = state;
///         self.arm(cx);
///     }
/// }
///
/// impl MsgHandler for EggTimer {
///     fn set(&mut self, cx: &mut Context<'_, Self>, _: SessionId, secs: u64) -> Result<(), Reject> {
///         let now = cx.elapsed().as_millis() as u64;
///         self.timer.rings_at_ms = Some(now + secs * 1000);
///         self.arm(cx);
///         Ok(())
///     }
/// }
/// ```
pub trait Durable: RexApp {
    /// What is saved: the part of the app that makes it this game.
    type State: Serialize + DeserializeOwned;

    /// The state as it is now; the server saves it after the calls of
    /// each group commit.
    fn state(&self) -> &Self::State;

    /// Puts back the state a previous run saved, before the server handles
    /// any request (and instead of [`RexApp::start`]). Re-arm scheduled
    /// work here. Events emitted here are appended like any call's.
    fn restore(&mut self, cx: &mut Context<'_, Self>, state: Self::State);
}

/// How a saved state is put back into the app: `Durable::restore` after
/// decoding the JSON.
pub(crate) type RestoreState<A> = fn(&mut A, &mut Context<'_, A>, &[u8]) -> Result<(), String>;

/// The `Durable` implementation of an app, as plain functions, so the
/// actor (generic over any `RexApp`) can use it.
pub(crate) struct Persistence<A: RexApp> {
    pub(crate) save: SaveState<A>,
    pub(crate) restore: RestoreState<A>,
}

impl<A: RexApp> Clone for Persistence<A> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A: RexApp> Copy for Persistence<A> {}

impl<A: Durable> Persistence<A> {
    pub(crate) fn of() -> Self {
        Persistence {
            save: |app| serde_json::to_vec(app.state()).map_err(|e| e.to_string()),
            restore: |app, cx, data| {
                let state: A::State = serde_json::from_slice(data).map_err(|e| e.to_string())?;
                app.restore(cx, state);
                Ok(())
            },
        }
    }
}

/// Where a restored room's clock starts.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Clock {
    /// The wall clock: the time since the epoch began, downtime included
    /// (a real restart).
    Wall,
    /// This reading in milliseconds, or the last the store saw if that is
    /// later (`rex::testing`, whose clock is paused).
    #[cfg_attr(not(any(test, feature = "testing")), allow(dead_code))]
    At(u64),
}

/// A room of a store, opened: the log and tables the actor and the
/// request handlers share, and what the actor must do first.
pub(crate) struct Opened {
    pub(crate) log: Arc<EventLog>,
    pub(crate) sessions: Arc<SessionTable>,
    /// Every restored session, to start its idle time.
    pub(crate) session_ids: Vec<rex_proto::SessionId>,
    pub(crate) dedupe: SessionMap<rex_proto::SessionId, Dedupe>,
    pub(crate) head: EventIndex,
    pub(crate) oldest: EventIndex,
    /// The saved state to restore; `None`: a new room (run `start`).
    pub(crate) state: Option<bytes::Bytes>,
}

fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Opens (or creates) the room of app `A` in `store` and rebuilds what it
/// holds in memory.
pub(crate) async fn open_room<A: RexApp>(
    store: &dyn Store,
    retention: Retention,
    clock: Clock,
) -> Result<Opened, StoreError> {
    let fresh = RoomMeta {
        app: app_id::<A>().to_owned(),
        epoch: Epoch::new_random(),
        started_unix_ms: unix_ms(SystemTime::now()),
    };
    let loaded = store.open(fresh).await?;
    rebuild(store, loaded, retention, clock)
}

fn rebuild(
    store: &dyn Store,
    loaded: Loaded,
    retention: Retention,
    clock: Clock,
) -> Result<Opened, StoreError> {
    let damaged = |position: String, detail: String| StoreError::Corrupt {
        place: store.place(),
        position,
        detail,
    };
    if loaded.state.is_none() && loaded.head > 0 {
        return Err(damaged(
            "the app's state".to_owned(),
            format!(
                "{} events are stored but no state of the app; was this room written by an app \
                 that does not persist its state?",
                loaded.head
            ),
        ));
    }
    if let Some(state) = &loaded.state {
        if state.head != loaded.head {
            return Err(damaged(
                "the app's state".to_owned(),
                format!(
                    "the state reflects index {} but the log's head is {}",
                    state.head, loaded.head
                ),
            ));
        }
    }
    let mut entries = VecDeque::with_capacity(loaded.events.len());
    let mut expected = loaded.oldest;
    for event in loaded.events {
        if event.index != expected {
            return Err(damaged(
                format!("event {expected}"),
                format!("found event {} where {expected} belongs", event.index),
            ));
        }
        expected += 1;
        let index = event.index;
        entries.push_back(
            Entry::from_stored(event).map_err(|e| damaged(format!("event {index}"), e))?,
        );
    }
    if expected != loaded.head {
        return Err(damaged(
            format!("event {expected}"),
            format!("the log ends at {expected} but its head is {}", loaded.head),
        ));
    }
    let clock_ms = match clock {
        Clock::Wall => {
            let since_start =
                unix_ms(SystemTime::now()).saturating_sub(loaded.meta.started_unix_ms);
            // A wall clock set back must not make the log's time run
            // backwards.
            since_start.max(loaded.clock_ms)
        }
        Clock::At(ms) => ms.max(loaded.clock_ms),
    };
    let log = EventLog::restored(
        retention,
        loaded.meta.epoch,
        clock_ms,
        loaded.oldest,
        entries,
    );
    let sessions = Arc::new(SessionTable::default());
    for session in &loaded.sessions {
        sessions.insert(session.token_hash, session.id);
    }
    let mut dedupe: SessionMap<_, Dedupe> = SessionMap::default();
    for record in loaded.dedupe {
        dedupe
            .entry(record.session)
            .or_default()
            .restore(record.seq, record.id, record.outcome);
    }
    Ok(Opened {
        log,
        sessions,
        session_ids: loaded.sessions.iter().map(|s| s.id).collect(),
        dedupe,
        head: loaded.head,
        oldest: loaded.oldest,
        state: loaded.state.map(|s| s.data),
    })
}

impl<A: RexApp> Actor<A> {
    /// Gives the actor its store and what was loaded from it (the log,
    /// sessions, dedupe windows and head, replacing its own; restored
    /// sessions start their idle time now), then runs `start` (a new room)
    /// or restores the saved state (`restore`, which re-arms scheduled
    /// work). The first batch is sealed by the caller (or the actor's loop).
    /// The server and `rex::testing` both open rooms through here.
    pub(crate) fn begin_durable(
        &mut self,
        store: Arc<dyn Store>,
        persistence: Persistence<A>,
        opened: Opened,
    ) -> Result<(), StoreError> {
        self.log = opened.log;
        self.sessions = opened.sessions;
        self.dedupe = opened.dedupe;
        self.head = opened.head;
        for &session in &opened.session_ids {
            self.activity.insert(session);
        }
        let place = store.place();
        self.commits = Some(Commits::new(store, persistence.save, opened.oldest));
        match opened.state {
            None => {
                self.start();
                Ok(())
            }
            Some(data) => {
                let mut failed = None;
                let _ = self.call(None, |app, cx| {
                    if let Err(e) = (persistence.restore)(app, cx, &data) {
                        failed = Some(e);
                    }
                    Ok(())
                });
                match failed {
                    None => Ok(()),
                    Some(reason) => Err(StoreError::Corrupt {
                        place,
                        position: "the app's state".to_owned(),
                        detail: format!(
                            "the saved state cannot be read as app `{}`'s state: {reason}",
                            app_id::<A>()
                        ),
                    }),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The commit rule and restarts, on the memory store and on a store
    //! whose writes a test holds back.

    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use futures_util::future::BoxFuture;
    use futures_util::FutureExt;
    use serde::{Deserialize, Serialize};
    use tokio::sync::{mpsc, oneshot, watch, Semaphore};

    use super::*;
    use crate::server::actor::{CallError, Command};
    use crate::server::store::{Batch, MemoryStore, StoredEvent};
    use crate::server::{AppHandle, Reject};
    use crate::testing::TestRoom;

    #[derive(crate::RexMessage)]
    #[rex(app = "durable-unit", events = Ev)]
    enum Msg {
        Add { n: u32 },
        Alarm { secs: u64 },
    }

    #[derive(Debug, PartialEq, crate::RexEvent)]
    enum Ev {
        Total(u32),
        Rang,
    }

    #[derive(Default, Serialize, Deserialize, Debug, PartialEq)]
    struct Game {
        total: u32,
        alarm_at_ms: Option<u64>,
    }

    #[derive(Default)]
    struct App {
        game: Game,
        restored: bool,
    }

    impl App {
        fn arm(&mut self, cx: &mut Context<'_, Self>) {
            if let Some(at) = self.game.alarm_at_ms {
                let now = cx.elapsed().as_millis() as u64;
                cx.after(Duration::from_millis(at.saturating_sub(now)), |app, cx| {
                    app.game.alarm_at_ms = None;
                    cx.emit(Ev::Rang);
                });
            }
        }
    }

    impl RexApp for App {
        type Protocol = Msg;
    }

    impl Durable for App {
        type State = Game;
        fn state(&self) -> &Game {
            &self.game
        }
        fn restore(&mut self, cx: &mut Context<'_, Self>, state: Game) {
            self.game = state;
            self.restored = true;
            self.arm(cx);
        }
    }

    impl MsgHandler for App {
        fn add(
            &mut self,
            cx: &mut Context<'_, Self>,
            _: rex_proto::SessionId,
            n: u32,
        ) -> Result<(), Reject> {
            if n == 0 {
                return Err(Reject::new("add something"));
            }
            self.game.total += n;
            cx.emit(Ev::Total(self.game.total));
            Ok(())
        }
        fn alarm(
            &mut self,
            cx: &mut Context<'_, Self>,
            _: rex_proto::SessionId,
            secs: u64,
        ) -> Result<(), Reject> {
            let now = cx.elapsed().as_millis() as u64;
            self.game.alarm_at_ms = Some(now + secs * 1000);
            self.arm(cx);
            Ok(())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_restarted_room_is_the_room_it_was() {
        let mut room = TestRoom::durable(App::default());
        let ada = room.join("Ada").unwrap();
        room.send_with_id(ada, 1, Msg::Add { n: 2 }).unwrap();
        assert_eq!(
            room.send_with_id(ada, 2, Msg::Add { n: 0 }),
            Err(Reject::new("add something"))
        );
        let (epoch, head, log) = (room.epoch(), room.head(), room.log());

        let mut room = room.restart(App::default());
        assert!(room.app().restored, "restore ran instead of start");
        assert_eq!(room.app().game.total, 2);
        assert_eq!((room.epoch(), room.head()), (epoch, head));
        assert_eq!(room.log(), log);
        // A retry of a handled id returns its first receipt; of a refused
        // one, its refusal: neither runs again.
        let retried = room.send_with_id(ada, 1, Msg::Add { n: 2 }).unwrap();
        assert_eq!(retried.len(), 1);
        assert_eq!(retried[0].event, Ev::Total(2));
        let refused = room.send_with_id(ada, 2, Msg::Add { n: 5 }).unwrap_err();
        assert!(refused.reason().contains("already sent"), "{refused}");
        assert_eq!(room.app().game.total, 2);
        // The session's token still works: it sends as before.
        let more = room.send(ada, Msg::Add { n: 1 }).unwrap();
        assert_eq!(more[0].event, Ev::Total(3));
    }

    #[tokio::test(start_paused = true)]
    async fn scheduled_work_is_re_armed_on_the_continuing_clock() {
        let mut room = TestRoom::durable(App::default());
        let ada = room.join("Ada").unwrap();
        room.send(ada, Msg::Alarm { secs: 10 }).unwrap();
        assert!(room.advance(Duration::from_secs(4)).await.is_empty());
        // Down for 3 s: 3 s are left of the 10.
        let mut room = room.restart_after(App::default(), Duration::from_secs(3));
        assert!(room.elapsed() >= Duration::from_secs(7));
        assert!(room.advance(Duration::from_millis(2_900)).await.is_empty());
        let rang = room.advance(Duration::from_millis(200)).await;
        assert_eq!(rang.len(), 1, "the alarm rings once, after the restart");
        assert_eq!(rang[0].event, Ev::Rang);
        assert_eq!(rang[0].time, 10_000, "at the time it was set for");
        // A deadline that passed while the server was down is due at once.
        room.send(ada, Msg::Alarm { secs: 1 }).unwrap();
        let mut room = room.restart_after(App::default(), Duration::from_secs(60));
        let rang = room.advance(Duration::ZERO).await;
        assert_eq!(rang.len(), 1);
        assert_eq!(room.app().game.alarm_at_ms, None);
    }

    /// A store whose writes wait for a permit the test hands out, and
    /// which counts them.
    #[derive(Clone)]
    struct Gated {
        inner: MemoryStore,
        permits: Arc<Semaphore>,
        batches: Arc<AtomicUsize>,
        fail: Arc<std::sync::atomic::AtomicBool>,
    }

    impl Store for Gated {
        fn open(&self, fresh: RoomMeta) -> BoxFuture<'static, Result<Loaded, StoreError>> {
            self.inner.open(fresh)
        }
        fn commit(&self, batch: Batch) -> BoxFuture<'static, Result<(), StoreError>> {
            let this = self.clone();
            async move {
                let permit = this.permits.acquire().await;
                permit.map(|p| p.forget()).ok();
                this.batches.fetch_add(1, Ordering::SeqCst);
                if this.fail.load(Ordering::SeqCst) {
                    return Err(StoreError::Io {
                        place: "gated".into(),
                        detail: "disk on fire".into(),
                    });
                }
                this.inner.commit(batch).await
            }
            .boxed()
        }
        fn read(
            &self,
            from: EventIndex,
            max: usize,
        ) -> BoxFuture<'static, Result<Vec<StoredEvent>, StoreError>> {
            self.inner.read(from, max)
        }
        fn place(&self) -> String {
            "gated".into()
        }
    }

    struct Running {
        log: Arc<EventLog>,
        tx: mpsc::Sender<Command<App>>,
        task: tokio::task::JoinHandle<Result<(), StoreError>>,
        stop: watch::Sender<bool>,
    }

    async fn spawn(store: &Gated) -> (Running, rex_proto::SessionId) {
        spawn_with(store, Retention::unlimited()).await
    }

    async fn spawn_with(store: &Gated, retention: Retention) -> (Running, rex_proto::SessionId) {
        let opened = open_room::<App>(store, retention, Clock::Wall)
            .await
            .unwrap();
        let (tx, rx) = mpsc::channel(64);
        let (stop_tx, stop) = watch::channel(false);
        let session = rex_proto::SessionId::new_random();
        let activity = Arc::new(crate::server::idle::Activity::default());
        activity.insert(session);
        let mut actor = Actor {
            app: App::default(),
            log: EventLog::new(retention),
            head: 0,
            commits: None,
            sessions: Default::default(),
            max_sessions: 10,
            dedupe: Default::default(),
            tx: tx.clone(),
            stop,
            timers: Default::default(),
            activity,
            idle_timeout: None,
            admission: None,
            on_close: None,
        };
        actor
            .begin_durable(Arc::new(store.clone()), Persistence::of(), opened)
            .unwrap();
        let log = actor.log.clone();
        let task = tokio::spawn(actor.run(rx));
        (
            Running {
                log,
                tx,
                task,
                stop: stop_tx,
            },
            session,
        )
    }

    async fn send(
        run: &Running,
        session: rex_proto::SessionId,
        n: u32,
    ) -> oneshot::Receiver<Result<rex_proto::Receipt, CallError>> {
        let (reply, rx) = oneshot::channel();
        let cmd = Command::Message {
            session,
            id: Some(u64::from(n)),
            msg: Msg::Add { n },
            reply,
        };
        assert!(run.tx.send(cmd).await.is_ok(), "the actor is running");
        rx
    }

    fn gated() -> Gated {
        Gated {
            inner: MemoryStore::new(),
            permits: Arc::new(Semaphore::new(0)),
            batches: Arc::new(AtomicUsize::new(0)),
            fail: Default::default(),
        }
    }

    /// Answers and visibility wait for the write; calls that arrive while
    /// it is in flight share the next one.
    #[tokio::test]
    async fn answers_wait_for_the_write_and_calls_share_the_next() {
        let store = gated();
        let (run, me) = spawn(&store).await;
        // The empty first batch (the room's creation) waits for a permit.
        let mut first = send(&run, me, 1).await;
        // Give the actor time to take the first message into its own batch
        // or the next; either way nothing may be answered or visible yet.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            first.try_recv().is_err(),
            "answered before any write was durable"
        );
        assert_eq!(run.log.bounds().head, 0, "visible before durable");
        let mut later: Vec<_> = Vec::new();
        for n in 2..=20 {
            later.push(send(&run, me, n).await);
        }
        // Let writes through one at a time until every answer is in.
        store.permits.add_permits(1);
        let receipt = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                if let Ok(answer) = first.try_recv() {
                    return answer;
                }
                store.permits.add_permits(1);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the first message's answer after its write");
        assert!(receipt.is_ok());
        for rx in later {
            let answer = tokio::time::timeout(Duration::from_secs(30), async {
                let mut rx = rx;
                loop {
                    match rx.try_recv() {
                        Ok(answer) => return answer,
                        Err(oneshot::error::TryRecvError::Empty) => {
                            store.permits.add_permits(1);
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                        Err(e) => panic!("answer dropped: {e}"),
                    }
                }
            })
            .await
            .expect("every answer after its write");
            let receipt = answer.unwrap();
            assert!(
                run.log.bounds().head >= receipt.first + receipt.count,
                "an answered event is visible"
            );
        }
        let batches = store.batches.load(Ordering::SeqCst);
        assert!(
            batches < 20,
            "20 messages queued behind one write share batches; took {batches}"
        );
        let loaded = store
            .inner
            .open(RoomMeta {
                app: "durable-unit".into(),
                epoch: rex_proto::Epoch::new_random(),
                started_unix_ms: 0,
            })
            .await
            .unwrap();
        assert_eq!(loaded.head, 20, "every event is stored");
        assert!(loaded.state.unwrap().data.starts_with(b"{\"total\":210"));
        run.stop.send_replace(true);
        run.task.await.unwrap().unwrap();
    }

    /// A handle's call answers after its write too, like a message.
    #[tokio::test]
    async fn handle_calls_answer_after_their_write() {
        let store = gated();
        let (run, _) = spawn(&store).await;
        let handle = AppHandle { tx: run.tx.clone() };
        let call = tokio::spawn(async move {
            handle
                .run(|app, cx| {
                    app.game.total = 99;
                    cx.emit(Ev::Total(99))
                })
                .await
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!call.is_finished(), "answered before its write");
        assert_eq!(run.log.bounds().head, 0);
        store.permits.add_permits(1_000);
        let index = tokio::time::timeout(Duration::from_secs(30), call)
            .await
            .expect("the handle's answer after the write")
            .unwrap()
            .unwrap();
        assert_eq!(index, 0);
        assert_eq!(run.log.bounds().head, 1);
        run.stop.send_replace(true);
        run.task.await.unwrap().unwrap();
    }

    /// Retention trims the store as it trims the log, and a restarted
    /// room keeps only what was retained.
    #[tokio::test]
    async fn retention_trims_the_store_too() {
        let store = gated();
        store.permits.add_permits(100_000);
        let (run, me) = spawn_with(&store, Retention::max_events(5)).await;
        for n in 1..=30 {
            let answer = send(&run, me, n).await;
            tokio::time::timeout(Duration::from_secs(30), answer)
                .await
                .expect("an answer")
                .unwrap()
                .unwrap();
        }
        assert_eq!(run.log.bounds().oldest, 25);
        run.stop.send_replace(true);
        run.task.await.unwrap().unwrap();
        let (run, _) = spawn_with(&store, Retention::max_events(5)).await;
        let bounds = run.log.bounds();
        assert_eq!(bounds.head, 30);
        assert!(
            (20..=25).contains(&bounds.oldest),
            "the store dropped what the log dropped (a batch behind at most): {bounds:?}"
        );
        let stored = store.inner.read(0, 100).await.unwrap();
        assert_eq!(stored.first().map(|e| e.index), Some(bounds.oldest));
        run.stop.send_replace(true);
        run.task.await.unwrap().unwrap();
    }

    /// A failed write stops the room: nothing it covered is answered, and
    /// the actor ends with the store's error.
    #[tokio::test]
    async fn a_failed_write_stops_the_room() {
        let store = gated();
        store.permits.add_permits(1);
        let (run, me) = spawn(&store).await;
        store.fail.store(true, Ordering::SeqCst);
        let answer = send(&run, me, 1).await;
        store.permits.add_permits(100);
        let ended = tokio::time::timeout(Duration::from_secs(30), run.task)
            .await
            .expect("the actor stops after a failed write")
            .unwrap();
        assert!(matches!(ended, Err(StoreError::Io { .. })), "{ended:?}");
        assert!(answer.await.is_err(), "the call was never answered");
        assert_eq!(run.log.bounds().head, 0, "nothing became visible");
        let handle = AppHandle { tx: run.tx };
        assert!(handle.run(|_, _| ()).await.is_err());
    }
}
