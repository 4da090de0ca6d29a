//! The media player: the [`RemoteApp`] the TV runs.
//!
//! The app is a state machine over a [`PlayerView`]: each command is
//! checked against the view, and if it changes anything the app emits one
//! event and applies that same event to its own view, so the view a remote
//! rebuilds from a snapshot and the log is the app's state, not an
//! approximation of it. A refused command changes neither the view nor the
//! log (the app checks everything before it emits).
//!
//! Remotes command the player concurrently; the server's actor hands the
//! app one message at a time, in arrival order, so conflicting commands
//! are serialized and each one, relative commands included (`seek_by`,
//! `volume_up`, `next`), applies to the state as it is when it is handled.
//! Two `volume_up`s from two remotes raise the volume by two steps.
//!
//! Playing is a clock, not a stream of ticks: the view says where the track
//! was at some log time, and the app's scheduled work ([`Context::after`])
//! moves to the next track when the current one ends. That timer is
//! rescheduled whenever the track, the position or play/pause changes.
//! When the last track of the playlist ends with nothing queued, the player
//! goes back to the first track of the playlist and stops (no repeat).
//! `next` and `previous` keep playing or paused as it was.
//!
//! The player is [`Durable`]: its state is its view, so with a data
//! directory a restarted TV plays the same track from the same place on
//! the log clock (which runs on while the TV is down), and re-arms the end
//! of the track for what is left of it. A track that would have ended
//! while the TV was down ends as soon as it is back.

use std::time::Duration;

use rex::{Context, Durable, Reject, RexApp, Scheduled, SessionId, Snapshot};

use super::protocol::{RemoteEvent, RemoteMsg, RemoteMsgHandler};
use super::tracks::Track;
use super::view::{clock, PlayerView};

/// How much `volume_up` and `volume_down` change the volume.
pub const VOLUME_STEP: u8 = 5;
/// `previous` restarts the current track once it has played this long, and
/// goes to the track before it until then, as most players do.
pub const RESTART_AFTER_MS: u64 = 3_000;
/// The most tracks the up-next queue holds.
pub const MAX_QUEUE: usize = 50;

/// The TV's media player: a playlist, a position that advances while
/// playing, volume, shuffle and an up-next queue.
#[derive(Debug)]
pub struct RemoteApp {
    /// The whole state, changed only through [`PlayerView::apply`] on the
    /// events the app emits.
    view: PlayerView,
    /// Moves to the next track when the current one ends; `Some` only while
    /// playing.
    track_end: Option<Scheduled>,
    /// Start playing as soon as the server starts.
    autoplay: bool,
    /// Shuffles the playlist.
    rng: fastrand::Rng,
}

/// What the player moves to: a track and the playlist and queue after it.
struct Step {
    track: u32,
    cursor: u32,
    from_queue: bool,
    queue: Vec<u32>,
}

impl RemoteApp {
    /// A player with `tracks`, paused at the start of the first one. Track
    /// ids are set to their place in the list.
    pub fn new(mut tracks: Vec<Track>) -> RemoteApp {
        for (id, track) in tracks.iter_mut().enumerate() {
            track.id = id as u32;
        }
        RemoteApp {
            view: PlayerView::new(tracks),
            track_end: None,
            autoplay: false,
            rng: fastrand::Rng::new(),
        }
    }

    /// Starts playing as soon as the server starts (the first event is
    /// then `playing`).
    pub fn autoplay(mut self, on: bool) -> RemoteApp {
        self.autoplay = on;
        self
    }

    /// Seeds the shuffle, for a reproducible order.
    pub fn seed(mut self, seed: u64) -> RemoteApp {
        self.rng = fastrand::Rng::with_seed(seed);
        self
    }

    /// The player's state, as its snapshot shows it.
    pub fn view(&self) -> &PlayerView {
        &self.view
    }

    /// Emits `event` and applies it to the view: the one way the state
    /// changes.
    fn emit(&mut self, cx: &mut Context<'_, Self>, event: RemoteEvent) {
        self.view.apply(&event);
        let moves_the_clock = !matches!(
            event,
            RemoteEvent::Volume { .. } | RemoteEvent::Shuffled { .. } | RemoteEvent::Queued { .. }
        );
        cx.emit(event);
        if moves_the_clock {
            self.schedule_track_end(cx);
        }
    }

    /// Replaces the end-of-track timer with one for the current track, if
    /// it is playing.
    fn schedule_track_end(&mut self, cx: &mut Context<'_, Self>) {
        if let Some(timer) = self.track_end.take() {
            timer.cancel();
        }
        if !self.view.playing {
            return;
        }
        let Some(track) = self.view.current() else {
            return;
        };
        let left = track
            .duration_ms
            .saturating_sub(self.view.position_at(now_ms(cx)));
        self.track_end = Some(cx.after(Duration::from_millis(left), |app, cx| {
            app.track_ended(cx);
        }));
    }

    /// The end-of-track timer: the next track, or back to the first and
    /// stop after the last.
    fn track_ended(&mut self, cx: &mut Context<'_, Self>) {
        self.track_end = None;
        let now = now_ms(cx);
        let Some(duration) = self.view.current().map(|t| t.duration_ms) else {
            return;
        };
        // A timer that was not cancelled belongs to the playing track; the
        // check only guards against a clock that rounded differently.
        if !self.view.playing || self.view.position_at(now) < duration {
            self.schedule_track_end(cx);
            return;
        }
        match self.following() {
            Some(step) => self.change_track(cx, step, self.view.playing, now),
            None => {
                let first = Step {
                    track: self.view.order.first().copied().unwrap_or(0),
                    cursor: 0,
                    from_queue: false,
                    queue: Vec::new(),
                };
                self.change_track(cx, first, false, now);
            }
        }
    }

    /// The current track, or why there is none.
    fn current(&self) -> Result<&Track, Reject> {
        self.view
            .current()
            .ok_or_else(|| Reject::new("the playlist is empty; there is nothing to play"))
    }

    /// What `next` (or the end of the track) moves to: the queue's head,
    /// else the next track of the playlist; `None` after the last one.
    fn following(&self) -> Option<Step> {
        if let Some((&head, rest)) = self.view.queue.split_first() {
            return Some(Step {
                track: head,
                cursor: self.view.cursor,
                from_queue: true,
                queue: rest.to_vec(),
            });
        }
        let cursor = self.view.cursor.checked_add(1)?;
        let track = *self.view.order.get(cursor as usize)?;
        Some(Step {
            track,
            cursor,
            from_queue: false,
            queue: Vec::new(),
        })
    }

    fn change_track(&mut self, cx: &mut Context<'_, Self>, step: Step, playing: bool, now: u64) {
        self.emit(
            cx,
            RemoteEvent::TrackChanged {
                track: step.track,
                cursor: step.cursor,
                from_queue: step.from_queue,
                queue: step.queue,
                playing,
                position_ms: 0,
                at_ms: now,
            },
        );
    }

    fn seek_to(&mut self, cx: &mut Context<'_, Self>, position_ms: u64, now: u64) {
        self.emit(
            cx,
            RemoteEvent::Seeked {
                position_ms,
                at_ms: now,
            },
        );
    }

    /// Plays from where the track is, unless it is playing.
    fn resume(&mut self, cx: &mut Context<'_, Self>) -> Result<(), Reject> {
        self.current()?;
        if !self.view.playing {
            let event = RemoteEvent::Playing {
                position_ms: self.view.position_ms,
                at_ms: now_ms(cx),
            };
            self.emit(cx, event);
        }
        Ok(())
    }

    /// Sets volume and mute; nothing is emitted if both are as they were.
    fn set_sound(&mut self, cx: &mut Context<'_, Self>, level: u8, muted: bool) {
        if (level, muted) != (self.view.volume, self.view.muted) {
            self.emit(cx, RemoteEvent::Volume { level, muted });
        }
    }
}

/// The log's clock, in the milliseconds events' `time` counts.
fn now_ms(cx: &Context<'_, RemoteApp>) -> u64 {
    u64::try_from(cx.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A signed number of milliseconds as seconds, for reasons: `+10 s`,
/// `-2.5 s`.
fn signed_seconds(ms: i64) -> String {
    let sign = if ms < 0 { '-' } else { '+' };
    let abs = ms.unsigned_abs();
    if abs.is_multiple_of(1000) {
        format!("{sign}{} s", abs / 1000)
    } else {
        format!("{sign}{} s", abs as f64 / 1000.0)
    }
}

impl RexApp for RemoteApp {
    type Protocol = RemoteMsg;

    fn start(&mut self, cx: &mut Context<'_, Self>) {
        if self.autoplay {
            // Only an empty playlist refuses, and then there is nothing to
            // play anyway.
            let _ = self.resume(cx);
        }
    }

    /// The whole view, for every reader alike: the player has no secrets.
    fn snapshot(&self, _viewer: Option<SessionId>) -> Option<Snapshot> {
        Some(Snapshot::new(&self.view))
    }
}

/// The view is the player's whole state, playlist included (the events
/// in the log name its tracks by id), so a restarted TV keeps the
/// playlist it was playing; only the end-of-track timer and the shuffle's
/// random numbers are the process's own.
impl Durable for RemoteApp {
    type State = PlayerView;

    fn state(&self) -> &PlayerView {
        &self.view
    }

    /// Puts the view back (instead of autoplay) and re-arms the end of the
    /// playing track.
    fn restore(&mut self, cx: &mut Context<'_, Self>, view: PlayerView) {
        self.view = view;
        self.schedule_track_end(cx);
    }
}

// Every handler checks first and emits last: a refusal must leave the view
// untouched, since the view is changed by emitting.
impl RemoteMsgHandler for RemoteApp {
    fn play(&mut self, cx: &mut Context<'_, Self>, _from: SessionId) -> Result<(), Reject> {
        self.resume(cx)
    }

    fn pause(&mut self, cx: &mut Context<'_, Self>, _from: SessionId) -> Result<(), Reject> {
        self.current()?;
        if self.view.playing {
            let now = now_ms(cx);
            let event = RemoteEvent::Paused {
                position_ms: self.view.position_at(now),
                at_ms: now,
            };
            self.emit(cx, event);
        }
        Ok(())
    }

    fn next(&mut self, cx: &mut Context<'_, Self>, _from: SessionId) -> Result<(), Reject> {
        let current = self.current()?;
        let Some(step) = self.following() else {
            return Err(Reject::new(format!(
                "“{}” is the last track of the playlist and nothing is queued; queue a track to play more",
                current.title
            )));
        };
        let now = now_ms(cx);
        self.change_track(cx, step, self.view.playing, now);
        Ok(())
    }

    fn previous(&mut self, cx: &mut Context<'_, Self>, _from: SessionId) -> Result<(), Reject> {
        let title = self.current()?.title.clone();
        let now = now_ms(cx);
        let position = self.view.position_at(now);
        let view = &self.view;
        let step = if position >= RESTART_AFTER_MS {
            None
        } else if view.from_queue {
            // Back to the playlist track that played before the queued one.
            view.order.get(view.cursor as usize).map(|&track| Step {
                track,
                cursor: view.cursor,
                from_queue: false,
                queue: view.queue.clone(),
            })
        } else {
            view.cursor
                .checked_sub(1)
                .and_then(|c| Some((c, *view.order.get(c as usize)?)))
                .map(|(cursor, track)| Step {
                    track,
                    cursor,
                    from_queue: false,
                    queue: view.queue.clone(),
                })
        };
        match step {
            Some(step) => self.change_track(cx, step, self.view.playing, now),
            // Restart the track: it has played a while, or it is the first.
            None if position > 0 => self.seek_to(cx, 0, now),
            None => {
                return Err(Reject::new(format!(
                    "“{title}” is the first track of the playlist and is at its start; there is nothing before it"
                )))
            }
        }
        Ok(())
    }

    fn seek(
        &mut self,
        cx: &mut Context<'_, Self>,
        _from: SessionId,
        position_ms: i64,
    ) -> Result<(), Reject> {
        let track = self.current()?;
        let Ok(position) = u64::try_from(position_ms) else {
            return Err(Reject::new(format!(
                "cannot seek to {} before the start of the track; positions start at 0",
                signed_seconds(position_ms)
            )));
        };
        if position >= track.duration_ms {
            return Err(Reject::new(format!(
                "“{}” is {} long; {} is past its end",
                track.title,
                clock(track.duration_ms),
                clock(position)
            )));
        }
        let now = now_ms(cx);
        self.seek_to(cx, position, now);
        Ok(())
    }

    fn seek_by(
        &mut self,
        cx: &mut Context<'_, Self>,
        _from: SessionId,
        offset_ms: i64,
    ) -> Result<(), Reject> {
        let track = self.current()?;
        let now = now_ms(cx);
        let from = self.view.position_at(now);
        // Back past the start lands on the start, like a rewind button.
        let target = i64::try_from(from)
            .unwrap_or(i64::MAX)
            .saturating_add(offset_ms)
            .max(0) as u64;
        if target >= track.duration_ms {
            return Err(Reject::new(format!(
                "seeking {} from {} would pass the end of “{}” ({}); skip it with next instead",
                signed_seconds(offset_ms),
                clock(from),
                track.title,
                clock(track.duration_ms)
            )));
        }
        self.seek_to(cx, target, now);
        Ok(())
    }

    fn set_volume(
        &mut self,
        cx: &mut Context<'_, Self>,
        _from: SessionId,
        level: i64,
    ) -> Result<(), Reject> {
        let Some(level) = u8::try_from(level).ok().filter(|l| *l <= 100) else {
            return Err(Reject::new(format!(
                "the volume goes from 0 to 100; {level} is out of range"
            )));
        };
        self.set_sound(cx, level, false);
        Ok(())
    }

    fn volume_up(&mut self, cx: &mut Context<'_, Self>, _from: SessionId) -> Result<(), Reject> {
        let level = self.view.volume.saturating_add(VOLUME_STEP).min(100);
        self.set_sound(cx, level, false);
        Ok(())
    }

    fn volume_down(&mut self, cx: &mut Context<'_, Self>, _from: SessionId) -> Result<(), Reject> {
        let level = self.view.volume.saturating_sub(VOLUME_STEP);
        self.set_sound(cx, level, false);
        Ok(())
    }

    fn mute(
        &mut self,
        cx: &mut Context<'_, Self>,
        _from: SessionId,
        muted: bool,
    ) -> Result<(), Reject> {
        self.set_sound(cx, self.view.volume, muted);
        Ok(())
    }

    fn shuffle(
        &mut self,
        cx: &mut Context<'_, Self>,
        _from: SessionId,
        on: bool,
    ) -> Result<(), Reject> {
        if on == self.view.shuffle {
            return Ok(());
        }
        let view = &self.view;
        let at = view.order.get(view.cursor as usize).copied();
        let mut order: Vec<u32> = view.tracks.iter().map(|t| t.id).collect();
        let cursor = if on {
            // The track at the cursor stays where the playlist is; the rest
            // follow in random order.
            order.retain(|&id| Some(id) != at);
            self.rng.shuffle(&mut order);
            if let Some(at) = at {
                order.insert(0, at);
            }
            0
        } else {
            at.and_then(|at| order.iter().position(|&id| id == at))
                .unwrap_or(0) as u32
        };
        self.emit(cx, RemoteEvent::Shuffled { on, order, cursor });
        Ok(())
    }

    fn queue(
        &mut self,
        cx: &mut Context<'_, Self>,
        _from: SessionId,
        track: u32,
    ) -> Result<(), Reject> {
        if self.view.track_by_id(track).is_none() {
            return Err(Reject::new(match self.view.tracks.len() {
                0 => "the playlist is empty; there is nothing to queue".to_owned(),
                n => format!(
                    "there is no track {track}; the playlist has tracks 0 to {}",
                    n - 1
                ),
            }));
        }
        if self.view.queue.len() >= MAX_QUEUE {
            return Err(Reject::new(format!(
                "the queue is full ({MAX_QUEUE} tracks); wait for some of them to play"
            )));
        }
        let mut queue = self.view.queue.clone();
        queue.push(track);
        self.emit(cx, RemoteEvent::Queued { track, queue });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::tracks;
    use rex::testing::TestRoom;
    use rex::RexEvent;

    /// Three short tracks: 10 s, 20 s, 30 s.
    fn short_tracks() -> Vec<Track> {
        tracks::playlist([
            ("One", "A", 10_000),
            ("Two", "B", 20_000),
            ("Three", "C", 30_000),
        ])
    }

    /// A player in-process (`rex::testing`): the server's own actor,
    /// timers and all, on the test's paused clock, with one remote joined.
    struct Tv {
        room: TestRoom<RemoteApp>,
        remote: SessionId,
    }

    impl Tv {
        fn new(app: RemoteApp) -> Tv {
            let mut room = TestRoom::new(app);
            let remote = room.join("remote").unwrap();
            Tv { room, remote }
        }

        fn short() -> Tv {
            Tv::new(RemoteApp::new(short_tracks()).seed(7))
        }

        /// Sends a message as the remote: `Err` with the player's reason.
        fn send(&mut self, msg: RemoteMsg) -> Result<(), String> {
            self.room
                .send(self.remote, msg)
                .map(drop)
                .map_err(|r| r.reason().to_owned())
        }

        /// Sends a message the player must refuse; checks that it changed
        /// nothing and returns the reason.
        fn refused(&mut self, msg: RemoteMsg) -> String {
            let (before, head) = (self.view(), self.room.head());
            let reason = self.send(msg.clone()).unwrap_err();
            assert_eq!(self.view(), before, "{msg:?} changed the view");
            assert_eq!(self.room.head(), head, "{msg:?} emitted");
            reason
        }

        fn view(&self) -> PlayerView {
            self.room.app().view.clone()
        }

        /// The current track's id and the position now.
        fn at(&mut self) -> (u32, u64) {
            self.room
                .run(|app, cx| (app.view.track, app.view.position_at(now_ms(cx))))
                .0
        }

        /// Lets `d` pass on the player's clock; due timers run on the way.
        async fn wait(&mut self, d: Duration) {
            self.room.advance(d).await;
        }

        fn events(&self) -> Vec<RemoteEvent> {
            self.room.log().into_iter().map(|e| e.event).collect()
        }

        /// Checks that the events in the log, applied to the initial view,
        /// give the app's view: what a remote computes is the state.
        fn check_replay(&self) {
            let view = self.view();
            let mut replayed = PlayerView::new(view.tracks.clone());
            for e in &self.events() {
                replayed.apply(e);
            }
            assert_eq!(replayed, view);
        }
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    /// The time and track of each `track_changed` in `room`'s log.
    fn changes(room: &TestRoom<RemoteApp>) -> Vec<(u64, u32)> {
        room.log()
            .into_iter()
            .filter_map(|e| match e.event {
                RemoteEvent::TrackChanged { track, .. } => Some((e.time, track)),
                _ => None,
            })
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_restarted_tv_plays_on_and_the_track_still_ends_at_its_time() {
        let mut room = TestRoom::durable(RemoteApp::new(short_tracks()).autoplay(true));
        let remote = room.join("remote").unwrap();
        room.send(remote, RemoteMsg::VolumeUp).unwrap();
        room.advance(secs(4.0)).await;
        let view = room.app().view.clone();
        assert!(view.playing);

        // Down for 3 s, then back (autoplay must not restart the track).
        let mut room = room.restart_after(RemoteApp::new(short_tracks()).autoplay(true), secs(3.0));
        assert_eq!(room.app().view, view, "the same view");
        let (position, head) = room
            .run(|app, cx| (app.view.position_at(now_ms(cx)), cx.head()))
            .0;
        assert_eq!(position, 7_000, "the track played on while the TV was down");
        assert_eq!(room.head(), head, "restore emitted nothing");
        // Track One (10 s) still ends at log time 10 s: 2.9 s on, nothing.
        room.advance(secs(2.9)).await;
        assert!(changes(&room).is_empty());
        room.advance(secs(0.2)).await;
        assert_eq!(changes(&room), [(10_000, 1)], "track Two at 10 s");
        assert_eq!(room.app().view.volume, view.volume);

        // Down longer than what is left of Two (20 s from 10 s, so 10 s
        // left at 20 s): it ends as soon as the TV is back, Three plays.
        room.advance(secs(9.9)).await;
        let mut room = room.restart_after(RemoteApp::new(short_tracks()), secs(60.0));
        let changed = room.advance(Duration::ZERO).await;
        assert_eq!(changed.len(), 1);
        assert_eq!(changes(&room), [(10_000, 1), (80_000, 2)]);
        let view = room.app().view.clone();
        assert!(view.playing);

        // Paused stays paused: no timer runs, the position stays.
        room.send(remote, RemoteMsg::Pause).unwrap();
        let paused = room.app().view.clone();
        let mut room = room.restart_after(RemoteApp::new(short_tracks()), secs(100.0));
        room.advance(secs(100.0)).await;
        assert_eq!(room.app().view, paused);
        // Replaying the whole log gives the restored view.
        let mut replayed = PlayerView::new(short_tracks());
        for e in room.log() {
            replayed.apply(&e.event);
        }
        assert_eq!(replayed, paused);
    }

    #[tokio::test(start_paused = true)]
    async fn a_track_that_ends_moves_to_the_next_and_the_last_stops_the_player() {
        let mut tv = Tv::short();
        assert_eq!(tv.at(), (0, 0));
        tv.send(RemoteMsg::Play).unwrap();
        tv.wait(secs(9.9)).await;
        assert_eq!(tv.at(), (0, 9_900));
        tv.wait(secs(0.2)).await;
        assert_eq!(tv.at(), (1, 100));
        tv.wait(secs(20.0)).await;
        assert_eq!(tv.at(), (2, 100));
        // Nothing is emitted while a track plays: the position is a clock.
        let kinds: Vec<&str> = tv.events().iter().map(|e| e.kind()).collect();
        assert_eq!(kinds, ["playing", "track_changed", "track_changed"]);
        // After the last track: back to the first, stopped.
        tv.wait(secs(30.0)).await;
        let view = tv.view();
        assert_eq!((view.track, view.cursor, view.playing), (0, 0, false));
        assert_eq!(view.position_ms, 0);
        tv.wait(secs(60.0)).await;
        assert_eq!(tv.at(), (0, 0));
        assert_eq!(tv.events().len(), 4);
        tv.check_replay();
    }

    #[tokio::test(start_paused = true)]
    async fn autoplay_plays_from_the_start_and_pause_stops_the_clock() {
        let mut tv = Tv::new(RemoteApp::new(short_tracks()).autoplay(true));
        tv.wait(secs(4.0)).await;
        assert_eq!(tv.at(), (0, 4_000));
        tv.send(RemoteMsg::Pause).unwrap();
        // Pausing twice is not an error; it changes nothing.
        tv.send(RemoteMsg::Pause).unwrap();
        tv.wait(secs(60.0)).await;
        assert_eq!(tv.at(), (0, 4_000));
        tv.send(RemoteMsg::Play).unwrap();
        tv.send(RemoteMsg::Play).unwrap();
        tv.wait(secs(5.0)).await;
        assert_eq!(tv.at(), (0, 9_000));
        // The end-of-track timer was moved by the pause: the track ends
        // 6 s after resuming, not 10 s after the start.
        tv.wait(secs(1.5)).await;
        assert_eq!(tv.at(), (1, 500));
        assert_eq!(
            tv.events(),
            [
                RemoteEvent::Playing {
                    position_ms: 0,
                    at_ms: 0
                },
                RemoteEvent::Paused {
                    position_ms: 4_000,
                    at_ms: 4_000
                },
                RemoteEvent::Playing {
                    position_ms: 4_000,
                    at_ms: 64_000
                },
                RemoteEvent::TrackChanged {
                    track: 1,
                    cursor: 1,
                    from_queue: false,
                    queue: vec![],
                    playing: true,
                    position_ms: 0,
                    at_ms: 70_000
                },
            ]
        );
        tv.check_replay();
    }

    #[tokio::test(start_paused = true)]
    async fn seeking_absolute_and_relative_moves_the_clock_and_the_track_end() {
        let mut tv = Tv::short();
        tv.send(RemoteMsg::Seek { position_ms: 2_500 }).unwrap();
        assert_eq!(tv.at(), (0, 2_500));
        tv.send(RemoteMsg::Play).unwrap();
        tv.wait(secs(1.0)).await;
        tv.send(RemoteMsg::SeekBy { offset_ms: 5_000 }).unwrap();
        assert_eq!(tv.at(), (0, 8_500));
        tv.send(RemoteMsg::SeekBy { offset_ms: -2_000 }).unwrap();
        assert_eq!(tv.at(), (0, 6_500));
        // Back past the start lands on the start.
        tv.send(RemoteMsg::SeekBy { offset_ms: -60_000 }).unwrap();
        assert_eq!(tv.at(), (0, 0));
        tv.send(RemoteMsg::Seek { position_ms: 9_000 }).unwrap();
        tv.wait(secs(0.9)).await;
        assert_eq!(tv.at(), (0, 9_900));
        tv.wait(secs(0.2)).await;
        assert_eq!(tv.at(), (1, 100));
        tv.check_replay();
    }

    #[tokio::test(start_paused = true)]
    async fn seeks_outside_the_track_are_refused_and_change_nothing() {
        let mut tv = Tv::short();
        tv.send(RemoteMsg::Seek { position_ms: 8_000 }).unwrap();
        assert_eq!(
            tv.refused(RemoteMsg::Seek {
                position_ms: 10_000
            }),
            "“One” is 0:10 long; 0:10 is past its end"
        );
        assert_eq!(
            tv.refused(RemoteMsg::Seek { position_ms: -1 }),
            "cannot seek to -0.001 s before the start of the track; positions start at 0"
        );
        assert_eq!(
            tv.refused(RemoteMsg::SeekBy { offset_ms: 2_000 }),
            "seeking +2 s from 0:08 would pass the end of “One” (0:10); skip it with next instead"
        );
        tv.send(RemoteMsg::SeekBy { offset_ms: 1_999 }).unwrap();
        assert_eq!(tv.at(), (0, 9_999));
        tv.check_replay();
    }

    #[tokio::test(start_paused = true)]
    async fn volume_sets_steps_clamps_and_mutes() {
        let mut tv = Tv::short();
        assert_eq!(tv.view().volume, 40);
        assert_eq!(
            tv.refused(RemoteMsg::SetVolume { level: 101 }),
            "the volume goes from 0 to 100; 101 is out of range"
        );
        assert_eq!(
            tv.refused(RemoteMsg::SetVolume { level: -5 }),
            "the volume goes from 0 to 100; -5 is out of range"
        );
        tv.send(RemoteMsg::SetVolume { level: 97 }).unwrap();
        tv.send(RemoteMsg::VolumeUp).unwrap();
        assert_eq!(tv.view().volume, 100);
        // Up at the top is accepted and changes nothing.
        tv.send(RemoteMsg::VolumeUp).unwrap();
        tv.send(RemoteMsg::Mute { muted: true }).unwrap();
        tv.send(RemoteMsg::Mute { muted: true }).unwrap();
        let view = tv.view();
        assert_eq!((view.volume, view.muted), (100, true));
        // A volume key unmutes, as on a TV.
        tv.send(RemoteMsg::VolumeDown).unwrap();
        let view = tv.view();
        assert_eq!((view.volume, view.muted), (95, false));
        tv.send(RemoteMsg::SetVolume { level: 3 }).unwrap();
        tv.send(RemoteMsg::VolumeDown).unwrap();
        tv.send(RemoteMsg::VolumeDown).unwrap();
        assert_eq!(tv.view().volume, 0);
        let volumes: Vec<(u8, bool)> = tv
            .events()
            .into_iter()
            .map(|e| match e {
                RemoteEvent::Volume { level, muted } => (level, muted),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            volumes,
            [
                (97, false),
                (100, false),
                (100, true),
                (95, false),
                (3, false),
                (0, false)
            ]
        );
        tv.check_replay();
    }

    #[tokio::test(start_paused = true)]
    async fn next_plays_the_queue_in_order_then_the_playlist_goes_on() {
        let mut tv = Tv::short();
        tv.send(RemoteMsg::Play).unwrap();
        tv.send(RemoteMsg::Queue { track: 2 }).unwrap();
        tv.send(RemoteMsg::Queue { track: 0 }).unwrap();
        assert_eq!(tv.view().queue, [2, 0]);
        tv.send(RemoteMsg::Next).unwrap();
        let view = tv.view();
        assert_eq!((view.track, view.from_queue, view.cursor), (2, true, 0));
        assert_eq!(view.queue, [0]);
        // The queue's next track comes when this one ends, too.
        tv.wait(secs(30.0)).await;
        let view = tv.view();
        assert_eq!((view.track, view.from_queue, view.cursor), (0, true, 0));
        assert!(view.queue.is_empty());
        // Then the playlist goes on after where it was.
        tv.send(RemoteMsg::Next).unwrap();
        let view = tv.view();
        assert_eq!((view.track, view.from_queue, view.cursor), (1, false, 1));
        tv.send(RemoteMsg::Next).unwrap();
        assert_eq!(
            tv.refused(RemoteMsg::Next),
            "“Three” is the last track of the playlist and nothing is queued; queue a track to play more"
        );
        assert_eq!(
            tv.refused(RemoteMsg::Queue { track: 3 }),
            "there is no track 3; the playlist has tracks 0 to 2"
        );
        for _ in 0..MAX_QUEUE {
            tv.send(RemoteMsg::Queue { track: 1 }).unwrap();
        }
        assert_eq!(
            tv.refused(RemoteMsg::Queue { track: 1 }),
            "the queue is full (50 tracks); wait for some of them to play"
        );
        tv.send(RemoteMsg::Next).unwrap();
        assert_eq!(tv.view().queue.len(), MAX_QUEUE - 1);
        tv.check_replay();
    }

    #[tokio::test(start_paused = true)]
    async fn previous_restarts_after_three_seconds_and_goes_back_before() {
        let mut tv = Tv::short();
        // At the very start of the first track there is nothing before.
        assert_eq!(
            tv.refused(RemoteMsg::Previous),
            "“One” is the first track of the playlist and is at its start; there is nothing before it"
        );
        tv.send(RemoteMsg::Play).unwrap();
        tv.wait(secs(1.0)).await;
        // Within 3 s of the first track: restart it.
        tv.send(RemoteMsg::Previous).unwrap();
        assert_eq!(tv.at(), (0, 0));
        tv.send(RemoteMsg::Next).unwrap();
        tv.wait(secs(2.9)).await;
        tv.send(RemoteMsg::Previous).unwrap();
        assert_eq!(tv.at(), (0, 0));
        tv.send(RemoteMsg::Next).unwrap();
        tv.wait(secs(3.0)).await;
        tv.send(RemoteMsg::Previous).unwrap();
        assert_eq!(tv.at(), (1, 0));
        // From a queued track, back to the playlist track before it.
        tv.send(RemoteMsg::Queue { track: 2 }).unwrap();
        tv.send(RemoteMsg::Next).unwrap();
        let view = tv.view();
        assert_eq!((view.track, view.from_queue), (2, true));
        tv.send(RemoteMsg::Previous).unwrap();
        let view = tv.view();
        assert_eq!((view.track, view.from_queue, view.cursor), (1, false, 1));
        // Paused stays paused.
        tv.send(RemoteMsg::Pause).unwrap();
        tv.send(RemoteMsg::Previous).unwrap();
        let view = tv.view();
        assert_eq!((view.track, view.playing), (0, false));
        tv.check_replay();
    }

    #[tokio::test(start_paused = true)]
    async fn shuffle_keeps_the_current_track_and_unshuffle_finds_it_again() {
        let tracks: Vec<Track> = tracks::bundled();
        let mut tv = Tv::new(RemoteApp::new(tracks).seed(3));
        tv.send(RemoteMsg::Next).unwrap();
        tv.send(RemoteMsg::Next).unwrap();
        tv.send(RemoteMsg::Shuffle { on: true }).unwrap();
        tv.send(RemoteMsg::Shuffle { on: true }).unwrap();
        let view = tv.view();
        assert!(view.shuffle);
        assert_eq!((view.track, view.cursor), (2, 0));
        assert_eq!(view.order[0], 2);
        let mut sorted = view.order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..12).collect::<Vec<u32>>());
        assert_ne!(view.order, sorted, "a seeded shuffle that changes nothing");
        // Next follows the shuffled order.
        tv.send(RemoteMsg::Next).unwrap();
        let view = tv.view();
        assert_eq!((view.track, view.cursor), (view.order[1], 1));
        let playing = view.track;
        tv.send(RemoteMsg::Shuffle { on: false }).unwrap();
        let view = tv.view();
        assert_eq!(view.order, sorted);
        assert_eq!((view.track, view.cursor), (playing, playing));
        assert_eq!(tv.events().len(), 5);
        tv.check_replay();
    }

    #[tokio::test(start_paused = true)]
    async fn an_empty_playlist_refuses_to_play_but_keeps_the_volume() {
        let mut tv = Tv::new(RemoteApp::new(Vec::new()).autoplay(true));
        for msg in [
            RemoteMsg::Play,
            RemoteMsg::Next,
            RemoteMsg::Previous,
            RemoteMsg::Seek { position_ms: 0 },
        ] {
            assert_eq!(
                tv.refused(msg),
                "the playlist is empty; there is nothing to play"
            );
        }
        assert_eq!(
            tv.refused(RemoteMsg::Queue { track: 0 }),
            "the playlist is empty; there is nothing to queue"
        );
        tv.send(RemoteMsg::Shuffle { on: true }).unwrap();
        tv.send(RemoteMsg::VolumeUp).unwrap();
        assert_eq!(tv.view().volume, 45);
        tv.check_replay();
    }
}
