//! The terminal remote, minus the terminal: what it shows
//! ([`RemoteScreen`]: the player's view as of a log index, an estimate of
//! the TV's clock, the status line), how a key becomes a command
//! ([`RemoteScreen::on_key`]), how the screen is drawn ([`draw`]), and how
//! it is kept up to date ([`Link`]: the TV's snapshot, then its log;
//! commands sent in order without holding up the keys).
//!
//! The `remote` example binary only sets up the terminal and runs the
//! loop; everything here runs the same against ratatui's `TestBackend`,
//! which is how the tests check what a person would see.

mod draw;
mod link;

use std::time::{Duration, Instant};

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use rex::{Connection, Epoch, Event, EventIndex, RexMessage, StateAt};

pub use draw::draw;
pub use link::Link;

use super::protocol::{RemoteEvent, RemoteMsg};
use super::view::PlayerView;

/// How far `←` and `→` seek.
pub const SEEK_STEP_MS: i64 = 10_000;

/// How long a refusal or a failed send stays on the status line when
/// nothing else clears it: long enough to read the TV's sentence, short
/// enough that an old complaint does not read as news.
pub const NOTICE_FOR: Duration = Duration::from_secs(10);

/// An estimate of the TV's log clock (milliseconds since its log began,
/// the clock of events' `time` and of the view's `at_ms`), so the progress
/// bar moves between events.
///
/// Every log time a remote hears (a snapshot's `time`, an event's
/// `meta.time`) was current on the TV at or before the moment it arrived,
/// so each is a lower bound of the TV's clock then; the estimate keeps the
/// highest one and runs it forward with the local monotonic clock. It is
/// late by at most the fastest delivery it has seen, which on a LAN is a
/// few milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogClock {
    /// A log time and the local instant it was (at least) current at.
    base: Option<(u64, Instant)>,
}

impl LogClock {
    /// Learns from `log_ms`, a log time heard at `seen`.
    pub fn observe(&mut self, log_ms: u64, seen: Instant) {
        if self.at(seen).is_none_or(|known| log_ms > known) {
            self.base = Some((log_ms, seen));
        }
    }

    /// The log time at `now`; `None` before anything was heard.
    pub fn at(&self, now: Instant) -> Option<u64> {
        let (log_ms, base) = self.base?;
        let since = now.saturating_duration_since(base).as_millis();
        Some(log_ms.saturating_add(u64::try_from(since).unwrap_or(u64::MAX)))
    }

    /// Forgets everything: a new log (the TV restarted) has a new clock.
    pub fn reset(&mut self) {
        self.base = None;
    }
}

/// What the status line says, most pressing first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// The TV cannot be reached (its log's stream is reconnecting, or its
    /// state cannot be read); the remote keeps trying.
    Trouble(String),
    /// The TV refused the last command, with its reason.
    Rejected(String),
    /// The last command could not be sent.
    Failed(String),
    /// All is well: connected, and the last command (if any) was accepted.
    Connected,
    /// Waiting for the TV's state.
    Connecting,
}

/// What a key asks the remote to do, beyond changing the screen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Send this to the TV.
    Send(RemoteMsg),
    /// Leave.
    Quit,
}

/// Everything the terminal remote shows.
///
/// The player's state comes only from the TV: a snapshot ([`load`]), then
/// each event after it ([`apply`]); keys never change it directly (the
/// TV decides, and its events say what happened), so several remotes
/// acting at once all show the TV's state.
///
/// [`load`]: RemoteScreen::load
/// [`apply`]: RemoteScreen::apply
#[derive(Clone, Debug)]
pub struct RemoteScreen {
    /// Which TV, for the title: its name or URL.
    tv: String,
    /// Who this remote is, as the TV knows it.
    name: String,
    /// The player's state; `None` until the first snapshot.
    player: Option<PlayerView>,
    /// The first index `player` does not reflect.
    next: EventIndex,
    /// The log `next` belongs to.
    epoch: Option<Epoch>,
    clock: LogClock,
    /// The instant the screen is drawn for (set by [`RemoteScreen::tick`]),
    /// so drawing is a function of the screen alone.
    now: Instant,
    /// The highlighted playlist row (a track id), for `Enter`.
    selected: usize,
    /// The stream of the TV's log is lost: since when, and how many
    /// attempts to open it again have failed. Set and cleared only by what
    /// the stream reports ([`RemoteScreen::connection`]), and by a new
    /// snapshot, which comes before a new stream.
    offline: Option<(Instant, u32)>,
    /// Other trouble reaching the TV (its state cannot be read, the remote
    /// cannot join again), which outranks `notice` on the status line.
    trouble: Option<String>,
    /// The outcome of the last command that did not simply succeed, and
    /// when it came. It speaks of the state the command met, so it goes
    /// when that state is gone (a new snapshot, another track) or after
    /// [`NOTICE_FOR`].
    notice: Option<(Status, Instant)>,
}

impl RemoteScreen {
    /// A screen for the TV at `tv` (its name or URL), for a remote called
    /// `name`, before anything is known of the player.
    pub fn new(tv: impl Into<String>, name: impl Into<String>, now: Instant) -> RemoteScreen {
        RemoteScreen {
            tv: tv.into(),
            name: name.into(),
            player: None,
            next: 0,
            epoch: None,
            clock: LogClock::default(),
            now,
            selected: 0,
            offline: None,
            trouble: None,
            notice: None,
        }
    }

    /// Starts over from the TV's snapshot, received at `seen`. A refusal
    /// shown so far goes: it spoke of a state the snapshot replaces (after
    /// missed events, or a TV that restarted and plays something else).
    pub fn load(&mut self, at: &StateAt<PlayerView>, seen: Instant) {
        if self.epoch != Some(at.epoch) {
            self.clock.reset();
        }
        self.epoch = Some(at.epoch);
        self.next = at.index;
        self.clock.observe(at.time, seen);
        self.selected = self.selected.min(at.state.tracks.len().saturating_sub(1));
        self.player = Some(at.state.clone());
        // The TV answered: whatever the last stream said is over; the new
        // stream says how it goes from here.
        self.offline = None;
        self.trouble = None;
        self.notice = None;
    }

    /// Applies the next event of the log, received at `seen`. An event the
    /// view already reflects (before [`RemoteScreen::next_index`]) is
    /// ignored, so applying is idempotent. Another track clears a refusal:
    /// what was refused (seeking past the end, `previous` at the start) was
    /// about the track before.
    pub fn apply(&mut self, event: &Event<RemoteEvent>, seen: Instant) {
        if event.meta.index < self.next {
            return;
        }
        let Some(player) = self.player.as_mut() else {
            return;
        };
        player.apply(&event.event);
        if matches!(event.event, RemoteEvent::TrackChanged { .. }) {
            self.notice = None;
        }
        self.next = event.meta.index + 1;
        self.clock.observe(event.meta.time, seen);
        self.trouble = None;
    }

    /// Sets the instant the screen is drawn for.
    pub fn tick(&mut self, now: Instant) {
        self.now = now;
    }

    /// The player's state, once known.
    pub fn view(&self) -> Option<&PlayerView> {
        self.player.as_ref()
    }

    /// The first log index the view does not reflect.
    pub fn next_index(&self) -> EventIndex {
        self.next
    }

    /// The TV's log clock at the screen's instant, once known.
    pub fn log_now(&self) -> Option<u64> {
        self.clock.at(self.now)
    }

    /// Where the current track is at the screen's instant.
    pub fn position(&self) -> Option<u64> {
        Some(self.player.as_ref()?.position_at(self.log_now()?))
    }

    /// The TV, as the title shows it.
    pub fn tv(&self) -> &str {
        &self.tv
    }

    /// This remote's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The highlighted playlist row.
    pub fn selected(&self) -> usize {
        self.selected
    }

    /// The TV cannot be reached (or read) right now.
    pub fn trouble(&mut self, what: impl Into<String>) {
        self.trouble = Some(what.into());
    }

    /// What the stream of the TV's log says of its connection: lost (and
    /// how long ago, and how many attempts failed since), or open again.
    pub fn connection(&mut self, state: &Connection) {
        match *state {
            Connection::Connected => {
                self.offline = None;
                self.trouble = None;
            }
            Connection::Reconnecting { since, attempts } => {
                self.offline = Some((since, attempts));
            }
        }
    }

    /// The TV handled a command: an old refusal no longer applies.
    pub fn accepted(&mut self) {
        self.notice = None;
        self.trouble = None;
    }

    /// The TV refused a command; its answer came at `seen`.
    pub fn rejected(&mut self, reason: impl Into<String>, seen: Instant) {
        self.notice = Some((Status::Rejected(reason.into()), seen));
    }

    /// A command could not be sent; the client gave up at `seen`.
    pub fn failed(&mut self, what: impl Into<String>, seen: Instant) {
        self.notice = Some((Status::Failed(what.into()), seen));
    }

    /// What the status line says at the screen's instant.
    pub fn status(&self) -> Status {
        if let Some((since, attempts)) = self.offline {
            return Status::Trouble(self.offline_text(since, attempts));
        }
        if let Some(trouble) = &self.trouble {
            return Status::Trouble(trouble.clone());
        }
        if let Some((notice, seen)) = &self.notice {
            if self.now.saturating_duration_since(*seen) < NOTICE_FOR {
                return notice.clone();
            }
        }
        if self.player.is_some() {
            Status::Connected
        } else {
            Status::Connecting
        }
    }

    /// The status line while the stream is lost, with how long ago (by the
    /// screen's clock, so it counts up as the screen is redrawn).
    fn offline_text(&self, since: Instant, attempts: u32) -> String {
        let secs = self.now.saturating_duration_since(since).as_secs();
        match attempts {
            0 => "lost the TV; reconnecting…".to_owned(),
            1 => format!("cannot reach the TV for {secs} s; reconnecting… (1 attempt failed)"),
            n => format!("cannot reach the TV for {secs} s; reconnecting… ({n} attempts failed)"),
        }
    }

    /// What a key does: moves the playlist highlight, or asks for a
    /// command. Commands that toggle (play/pause, mute, shuffle) toggle
    /// what the screen shows; before the player's state is known they do
    /// nothing.
    ///
    /// | key | |
    /// |---|---|
    /// | space | play / pause |
    /// | `n` / `p` | next / previous |
    /// | `←` / `→` | seek back / forward 10 s |
    /// | `+` / `-` | volume up / down |
    /// | `m` / `s` | mute / shuffle on or off |
    /// | `1`–`9`, `0` | queue track 1–10 of the playlist |
    /// | `↑` / `↓`, `Enter` | pick a playlist track, queue it |
    /// | `q`, `Esc`, `Ctrl-C` | quit |
    pub fn on_key(&mut self, key: KeyEvent) -> Option<Command> {
        // Terminals that report releases (Windows, or with the kitty
        // protocol) would otherwise act twice per press.
        if key.kind == KeyEventKind::Release {
            return None;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) {
            return matches!(key.code, KeyCode::Char('c' | 'd')).then_some(Command::Quit);
        }
        let send = |msg| Some(Command::Send(msg));
        match key.code {
            KeyCode::Char('q') | KeyCode::Esc => Some(Command::Quit),
            KeyCode::Char('n') => send(RemoteMsg::Next),
            KeyCode::Char('p') => send(RemoteMsg::Previous),
            KeyCode::Left => send(RemoteMsg::SeekBy {
                offset_ms: -SEEK_STEP_MS,
            }),
            KeyCode::Right => send(RemoteMsg::SeekBy {
                offset_ms: SEEK_STEP_MS,
            }),
            KeyCode::Char('+' | '=') => send(RemoteMsg::VolumeUp),
            KeyCode::Char('-' | '_') => send(RemoteMsg::VolumeDown),
            KeyCode::Char(digit @ '0'..='9') => {
                // `1` is the first track; `0` the tenth, as on a keyboard.
                let track = (u32::from(digit) - u32::from('0') + 9) % 10;
                send(RemoteMsg::Queue { track })
            }
            KeyCode::Up | KeyCode::Char('k') => {
                self.selected = self.selected.saturating_sub(1);
                None
            }
            KeyCode::Down | KeyCode::Char('j') => {
                let last = self.view().map_or(0, |v| v.tracks.len().saturating_sub(1));
                self.selected = (self.selected + 1).min(last);
                None
            }
            KeyCode::Enter => {
                let track = self.view()?.tracks.get(self.selected)?.id;
                send(RemoteMsg::Queue { track })
            }
            KeyCode::Char(' ') => {
                let view = self.view()?;
                send(if view.playing {
                    RemoteMsg::Pause
                } else {
                    RemoteMsg::Play
                })
            }
            KeyCode::Char('m') => {
                let muted = !self.view()?.muted;
                send(RemoteMsg::Mute { muted })
            }
            KeyCode::Char('s') => {
                let on = !self.view()?.shuffle;
                send(RemoteMsg::Shuffle { on })
            }
            _ => None,
        }
    }
}

/// A command as the status line names it: `next`, `seek_by`.
fn kind(msg: &RemoteMsg) -> &'static str {
    msg.kind()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use ratatui::backend::TestBackend;
    use ratatui::Terminal;
    use rex::EventMeta;

    use super::*;
    use crate::remote::tracks;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn at(state: PlayerView, index: EventIndex, time: u64) -> StateAt<PlayerView> {
        StateAt {
            state,
            index,
            time,
            epoch: "6f1c2a52-1d7e-4f3a-9d33-1a0c5b7e8f90".parse().unwrap(),
        }
    }

    fn event(index: EventIndex, time: u64, event: RemoteEvent) -> Event<RemoteEvent> {
        Event {
            meta: EventMeta {
                index,
                time,
                origin: None,
                to: None,
            },
            event,
        }
    }

    /// The screen as text, one line per row.
    fn text(screen: &RemoteScreen, width: u16, height: u16) -> String {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|frame| draw(frame, screen)).unwrap();
        let buffer = terminal.backend().buffer();
        let mut text = String::new();
        for y in 0..height {
            for x in 0..width {
                text.push_str(buffer[(x, y)].symbol());
            }
            text.push('\n');
        }
        text
    }

    #[test]
    fn the_clock_keeps_the_latest_lower_bound_and_runs_on() {
        let t0 = Instant::now();
        let mut clock = LogClock::default();
        assert_eq!(clock.at(t0), None);
        clock.observe(1_000, t0);
        assert_eq!(clock.at(t0 + Duration::from_millis(250)), Some(1_250));
        // An old event replayed later says nothing new.
        clock.observe(900, t0 + Duration::from_millis(500));
        assert_eq!(clock.at(t0 + Duration::from_millis(500)), Some(1_500));
        // A time ahead of the estimate: the estimate was late.
        clock.observe(1_700, t0 + Duration::from_millis(500));
        assert_eq!(clock.at(t0 + Duration::from_secs(1)), Some(2_200));
        // An instant before the base does not run the clock backwards.
        assert_eq!(clock.at(t0), Some(1_700));
        clock.reset();
        assert_eq!(clock.at(t0), None);
    }

    #[test]
    fn keys_map_to_commands_by_what_the_screen_shows() {
        let t0 = Instant::now();
        let mut screen = RemoteScreen::new("http://tv", "me", t0);
        // Toggles need the state; plain commands do not.
        assert_eq!(screen.on_key(key(KeyCode::Char(' '))), None);
        assert_eq!(screen.on_key(key(KeyCode::Char('m'))), None);
        assert_eq!(
            screen.on_key(key(KeyCode::Char('n'))),
            Some(Command::Send(RemoteMsg::Next))
        );
        screen.load(&at(PlayerView::new(tracks::bundled()), 0, 0), t0);
        let send = |msg| Some(Command::Send(msg));
        let cases = [
            (KeyCode::Char(' '), send(RemoteMsg::Play)),
            (KeyCode::Char('n'), send(RemoteMsg::Next)),
            (KeyCode::Char('p'), send(RemoteMsg::Previous)),
            (
                KeyCode::Left,
                send(RemoteMsg::SeekBy { offset_ms: -10_000 }),
            ),
            (
                KeyCode::Right,
                send(RemoteMsg::SeekBy { offset_ms: 10_000 }),
            ),
            (KeyCode::Char('+'), send(RemoteMsg::VolumeUp)),
            (KeyCode::Char('='), send(RemoteMsg::VolumeUp)),
            (KeyCode::Char('-'), send(RemoteMsg::VolumeDown)),
            (KeyCode::Char('m'), send(RemoteMsg::Mute { muted: true })),
            (KeyCode::Char('s'), send(RemoteMsg::Shuffle { on: true })),
            (KeyCode::Char('1'), send(RemoteMsg::Queue { track: 0 })),
            (KeyCode::Char('9'), send(RemoteMsg::Queue { track: 8 })),
            (KeyCode::Char('0'), send(RemoteMsg::Queue { track: 9 })),
            (KeyCode::Char('q'), Some(Command::Quit)),
            (KeyCode::Esc, Some(Command::Quit)),
            (KeyCode::Char('x'), None),
        ];
        for (code, want) in cases {
            assert_eq!(screen.on_key(key(code)), want, "{code:?}");
        }
        assert_eq!(
            screen.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Command::Quit)
        );
        let mut release = key(KeyCode::Char('q'));
        release.kind = KeyEventKind::Release;
        assert_eq!(screen.on_key(release), None);

        // The toggles follow the state the TV reports.
        let playing = RemoteEvent::Playing {
            position_ms: 0,
            at_ms: 5,
        };
        screen.apply(&event(0, 5, playing), t0);
        screen.apply(
            &event(
                1,
                6,
                RemoteEvent::Volume {
                    level: 40,
                    muted: true,
                },
            ),
            t0,
        );
        assert_eq!(
            screen.on_key(key(KeyCode::Char(' '))),
            send(RemoteMsg::Pause)
        );
        assert_eq!(
            screen.on_key(key(KeyCode::Char('m'))),
            send(RemoteMsg::Mute { muted: false })
        );

        // The highlight stays within the playlist; Enter queues it.
        assert_eq!(screen.on_key(key(KeyCode::Up)), None);
        assert_eq!(screen.selected(), 0);
        for _ in 0..3 {
            screen.on_key(key(KeyCode::Down));
        }
        assert_eq!(
            screen.on_key(key(KeyCode::Enter)),
            send(RemoteMsg::Queue { track: 3 })
        );
        for _ in 0..20 {
            screen.on_key(key(KeyCode::Char('j')));
        }
        assert_eq!(screen.selected(), 11);
    }

    #[test]
    fn events_apply_once_after_the_snapshot() {
        let t0 = Instant::now();
        let mut screen = RemoteScreen::new("tv", "me", t0);
        screen.load(&at(PlayerView::new(tracks::bundled()), 7, 100), t0);
        let volume = |level| RemoteEvent::Volume {
            level,
            muted: false,
        };
        // Before the snapshot's index: already in the view.
        screen.apply(&event(6, 90, volume(10)), t0);
        assert_eq!(screen.view().unwrap().volume, 40);
        screen.apply(&event(7, 120, volume(45)), t0);
        assert_eq!(
            (screen.view().unwrap().volume, screen.next_index()),
            (45, 8)
        );
        screen.apply(&event(7, 120, volume(99)), t0);
        assert_eq!(screen.view().unwrap().volume, 45);
    }

    #[test]
    fn the_progress_runs_with_the_estimated_clock() {
        let t0 = Instant::now();
        let mut screen = RemoteScreen::new("tv", "me", t0);
        assert_eq!(screen.position(), None);
        screen.load(&at(PlayerView::new(tracks::bundled()), 0, 10_000), t0);
        screen.apply(
            &event(
                0,
                10_000,
                RemoteEvent::Playing {
                    position_ms: 60_000,
                    at_ms: 10_000,
                },
            ),
            t0,
        );
        screen.tick(t0 + Duration::from_millis(2_500));
        assert_eq!(screen.position(), Some(62_500));
        assert!(text(&screen, 80, 24).contains("1:02 / 4:05"));
    }

    #[test]
    fn the_screen_shows_track_progress_volume_queue_and_playlist() {
        let t0 = Instant::now();
        let mut screen = RemoteScreen::new("Living room", "alice", t0);
        let shown = text(&screen, 80, 24);
        assert!(shown.contains("Living room"), "{shown}");
        assert!(shown.contains("connecting"), "{shown}");

        let mut view = PlayerView::new(tracks::bundled());
        view.track = 2;
        view.cursor = 2;
        view.queue = vec![5, 9];
        view.volume = 65;
        view.muted = true;
        view.shuffle = true;
        view.position_ms = 30_000;
        screen.load(&at(view, 12, 1_000), t0);
        screen.rejected(
            "“Slow Tram to Lisbon” is 5:12 long; 9:00 is past its end",
            t0,
        );
        let shown = text(&screen, 80, 24);
        for want in [
            "Slow Tram to Lisbon",
            "Orquestra Miúda",
            "track 3 of 12 · 3rd in shuffle order",
            "0:30 / 5:12",
            "65",
            "muted",
            "shuffle on",
            "Fjord Echoes",
            "Neon Orchard",
            "Harbour Lights",
            "Lighthouse Keeper",
            "9:00 is past its end",
            "alice",
            "q quit",
        ] {
            assert!(shown.contains(want), "no {want:?} in\n{shown}");
        }
        // Trouble outranks the refusal, and clears when the stream is back.
        screen.trouble("cannot read the TV's state; reconnecting…");
        assert!(text(&screen, 80, 24).contains("reconnecting…"));
        screen.connection(&Connection::Connected);
        assert!(text(&screen, 80, 24).contains("past its end"));
        screen.accepted();
        let shown = text(&screen, 80, 24);
        assert!(!shown.contains("past its end"), "{shown}");
        // A small terminal still shows the essentials.
        let shown = text(&screen, 40, 12);
        assert!(shown.contains("Slow Tram"), "{shown}");
    }
    #[test]
    fn the_status_line_follows_the_streams_connection() {
        let t0 = Instant::now();
        let mut screen = RemoteScreen::new("tv", "me", t0);
        screen.load(&at(PlayerView::new(tracks::bundled()), 0, 0), t0);
        screen.connection(&Connection::Connected);
        assert_eq!(screen.status(), Status::Connected);

        screen.connection(&Connection::Reconnecting {
            since: t0,
            attempts: 0,
        });
        assert_eq!(
            screen.status(),
            Status::Trouble("lost the TV; reconnecting…".to_owned())
        );
        // It outranks any other trouble, and counts the time by the
        // screen's clock.
        screen.trouble("cannot read the TV's state; reconnecting…");
        screen.connection(&Connection::Reconnecting {
            since: t0,
            attempts: 3,
        });
        screen.tick(t0 + Duration::from_secs(7));
        assert_eq!(
            screen.status(),
            Status::Trouble(
                "cannot reach the TV for 7 s; reconnecting… (3 attempts failed)".to_owned()
            )
        );
        assert!(status_row(&screen).contains("cannot reach the TV for 7 s"));

        // Events do not say the stream is back (they may be the last ones
        // of a stream being lost); the stream does.
        screen.apply(
            &event(
                0,
                5,
                RemoteEvent::Volume {
                    level: 45,
                    muted: false,
                },
            ),
            t0,
        );
        assert!(matches!(screen.status(), Status::Trouble(_)));
        screen.connection(&Connection::Connected);
        assert_eq!(screen.status(), Status::Connected);

        // A new snapshot (read after the stream broke off) starts afresh.
        screen.connection(&Connection::Reconnecting {
            since: t0,
            attempts: 1,
        });
        screen.load(&at(PlayerView::new(tracks::bundled()), 1, 10), t0);
        assert_eq!(screen.status(), Status::Connected);
    }

    /// The status line as drawn (the row under the boxes).
    fn status_row(screen: &RemoteScreen) -> String {
        let shown = text(screen, 80, 24);
        shown.lines().nth(20).unwrap_or_default().trim().to_owned()
    }

    #[test]
    fn a_refusal_goes_when_the_state_it_spoke_of_is_gone() {
        let t0 = Instant::now();
        let refusal = "seeking +10 s from 4:00 would pass the end of “Harbour Lights” (4:05); skip it with next instead";
        let mut screen = RemoteScreen::new("tv", "me", t0);
        screen.load(&at(PlayerView::new(tracks::bundled()), 3, 1_000), t0);

        // Events that leave the track as it was keep it.
        screen.rejected(refusal, t0);
        let volume = RemoteEvent::Volume {
            level: 45,
            muted: false,
        };
        screen.apply(&event(3, 1_100, volume), t0);
        assert_eq!(screen.status(), Status::Rejected(refusal.to_owned()));
        assert!(status_row(&screen).contains("would pass the end"));

        // Another track: it was about the one before.
        let changed = RemoteEvent::TrackChanged {
            track: 1,
            cursor: 1,
            from_queue: false,
            queue: Vec::new(),
            playing: true,
            position_ms: 0,
            at_ms: 1_200,
        };
        screen.apply(&event(4, 1_200, changed), t0);
        assert_eq!(screen.status(), Status::Connected);
        assert!(
            status_row(&screen).starts_with("connected to tv as me"),
            "{}",
            text(&screen, 80, 24)
        );

        // A new snapshot (a resync, or the TV restarted): the state it was
        // about is gone. So is a failed send's complaint.
        screen.rejected(refusal, t0);
        screen.load(&at(PlayerView::new(tracks::bundled()), 0, 0), t0);
        assert_eq!(screen.status(), Status::Connected);
        screen.failed(
            "`next` was not sent: the TV restarted; try again in a moment",
            t0,
        );
        screen.load(&at(PlayerView::new(tracks::bundled()), 0, 0), t0);
        assert_eq!(screen.status(), Status::Connected);

        // Otherwise it goes after a while, as the screen's clock runs.
        let later = t0 + Duration::from_secs(1);
        screen.rejected(refusal, later);
        screen.tick(later + NOTICE_FOR - Duration::from_millis(1));
        assert!(status_row(&screen).contains("would pass the end"));
        screen.tick(later + NOTICE_FOR);
        assert_eq!(screen.status(), Status::Connected);
        assert!(!text(&screen, 80, 24).contains("would pass the end"));
    }

    #[test]
    fn the_header_and_the_playlist_number_the_playing_track_alike() {
        let t0 = Instant::now();
        let mut screen = RemoteScreen::new("tv", "me", t0);
        let mut view = PlayerView::new(tracks::bundled());
        // Shuffled, and the eighth track of the playlist plays first.
        view.shuffle = true;
        view.order = vec![7, 3, 11, 0, 1, 2, 4, 5, 6, 8, 9, 10];
        view.cursor = 0;
        view.track = 7;
        screen.load(&at(view.clone(), 5, 0), t0);
        let shown = text(&screen, 80, 24);
        assert!(
            shown.contains("track 8 of 12 · 1st in shuffle order"),
            "{shown}"
        );
        assert!(shown.contains("▶ 8 Seven Small Rains"), "{shown}");

        // The tenth and later tracks are numbered too, as the header
        // counts them (the key `0` queues the tenth).
        view.track = 11;
        view.cursor = 2;
        screen.load(&at(view.clone(), 6, 0), t0);
        let shown = text(&screen, 80, 24);
        assert!(
            shown.contains("track 12 of 12 · 3rd in shuffle order"),
            "{shown}"
        );
        assert!(shown.contains("▶12 Lighthouse Keeper"), "{shown}");
        assert!(shown.contains(" 10 Neon Orchard"), "{shown}");

        // A queued track: its playlist number, and where it came from.
        view.track = 2;
        view.from_queue = true;
        screen.load(&at(view, 7, 0), t0);
        let shown = text(&screen, 80, 24);
        assert!(shown.contains("track 3 of 12 · from the queue"), "{shown}");
        assert!(shown.contains("▶ 3 Slow Tram"), "{shown}");
    }
}
