//! [`draw`]: the terminal remote's one screen.
//!
//! ```text
//! ┌ REx TV · alice ──────────────────────────────────────────────────────────────┐
//! │▶ Playing · track 1 of 12                                                     │
//! │Harbour Lights                                                                │
//! │The Quiet Engines                                                             │
//! │█████████████████████████████████2:01 / 4:05                                  │
//! └──────────────────────────────────────────────────────────────────────────────┘
//! ┌ Playlist · Enter queues ─────────────────┐┌ Sound ───────────────────────────┐
//! │▶ 1 Harbour Lights — The Quiet Engin  4:05││████████████volume 45             │
//! │  2 Paper Satellites — Mina Okafor    3:18││shuffle off                       │
//! │  3 Slow Tram to Lisbon — Orquestra   5:12│└──────────────────────────────────┘
//! │  4 Night Shift at the Observatory —  3:47│┌ Up next · 2 queued ──────────────┐
//! │  5 Copper Kettle Blues — June Marlo  3:03││1. Fjord Echoes — Sigrun Tal      │
//! │  6 Fjord Echoes — Sigrun Tal         4:36││2. Cartographer's Waltz — Ensemble│
//! │  …                                       ││then Paper Satellites — Mina Okafo│
//! └──────────────────────────────────────────┘└──────────────────────────────────┘
//! ✗ the TV's reason for refusing the last command, or ⚠ reconnecting…
//!
//! space play/pause  n next  p previous  ← → seek ∓10 s
//! + - volume  m mute  s shuffle  ↑ ↓ Enter or 1…0 queue  q quit
//! ```

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Gauge, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;

use super::{RemoteScreen, Status};
use crate::cli::printable;
use crate::remote::view::{clock, PlayerView};

/// The key help, two lines so it fits 80 columns.
const HELP: [&[(&str, &str)]; 2] = [
    &[
        ("space", "play/pause"),
        ("n", "next"),
        ("p", "previous"),
        ("← →", "seek ∓10 s"),
    ],
    &[
        ("+ -", "volume"),
        ("m", "mute"),
        ("s", "shuffle"),
        ("↑ ↓ Enter or 1…0", "queue"),
        ("q", "quit"),
    ],
];

/// Draws `screen` over the whole frame: now playing with its progress,
/// the playlist, sound, the up-next queue, the status line and the keys.
pub fn draw(frame: &mut Frame<'_>, screen: &RemoteScreen) {
    let [playing, body, status, help] = Layout::vertical([
        Constraint::Length(6),
        Constraint::Min(0),
        Constraint::Length(2),
        Constraint::Length(2),
    ])
    .areas(frame.area());
    let [playlist, side] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(body);
    let [sound, next] = Layout::vertical([Constraint::Length(4), Constraint::Min(0)]).areas(side);

    // The TV's name (from the network), its tracks and its reasons are
    // another device's text: every one goes through `printable`, so none
    // can reach the terminal as an escape sequence.
    let title = format!(
        " {} · {} ",
        printable(screen.tv()),
        printable(screen.name())
    );
    let block = Block::bordered().title(title.bold());
    let inner = block.inner(playing);
    frame.render_widget(block, playing);
    match screen.view() {
        Some(view) => now_playing(frame, inner, screen, view),
        None => frame.render_widget(
            Paragraph::new(format!("connecting to {}…", printable(screen.tv()))).dim(),
            inner,
        ),
    }
    if let Some(view) = screen.view() {
        draw_playlist(frame, playlist, screen, view);
        draw_sound(frame, sound, view);
        draw_up_next(frame, next, view);
    }
    // Two lines: the TV's reasons are sentences.
    frame.render_widget(
        Paragraph::new(status_line(screen)).wrap(Wrap { trim: true }),
        status,
    );
    let help_lines: Vec<Line<'_>> = HELP.iter().map(|keys| help_line(keys)).collect();
    frame.render_widget(Paragraph::new(help_lines), help);
}

/// State, title, artist and the progress bar.
fn now_playing(frame: &mut Frame<'_>, area: Rect, screen: &RemoteScreen, view: &PlayerView) {
    let [state, title, artist, progress] = Layout::vertical([Constraint::Length(1); 4]).areas(area);
    let Some(track) = view.current() else {
        frame.render_widget(Paragraph::new("the playlist is empty").dim(), title);
        return;
    };
    let mut line = vec![if view.playing {
        "▶ Playing".green().bold()
    } else {
        "❚❚ Paused".yellow().bold()
    }];
    if let Some(place) = view.place() {
        line.push(format!(" · {place}").into());
    }
    frame.render_widget(Line::from(line), state);
    frame.render_widget(
        Line::from(printable(&track.title).into_owned().bold()),
        title,
    );
    frame.render_widget(Line::from(printable(&track.artist).into_owned()), artist);
    let position = screen.position().unwrap_or(view.position_ms);
    let ratio = if track.duration_ms == 0 {
        0.0
    } else {
        (position as f64 / track.duration_ms as f64).clamp(0.0, 1.0)
    };
    let label = format!("{} / {}", clock(position), clock(track.duration_ms));
    frame.render_widget(
        Gauge::default()
            .ratio(ratio)
            .label(Span::from(label).bold())
            .gauge_style(Style::new().fg(Color::Cyan).bg(Color::DarkGray))
            .use_unicode(true),
        progress,
    );
}

/// Every track in playlist order, numbered as the header counts (the
/// number keys queue tracks 1 to 10, `0` being 10), the current one
/// marked, the highlighted one for `Enter`.
fn draw_playlist(frame: &mut Frame<'_>, area: Rect, screen: &RemoteScreen, view: &PlayerView) {
    let digits = view.tracks.len().max(1).to_string().len();
    let rows = view.tracks.iter().enumerate().map(|(i, t)| {
        let number = i + 1;
        let current = t.id == view.track;
        let mark = if current { "▶" } else { " " };
        let row = Row::new([
            Cell::from(format!("{mark}{number:>digits$}")),
            Cell::from(Line::from(vec![
                Span::from(printable(&t.title).into_owned()),
                Span::from(format!(" — {}", printable(&t.artist))).dim(),
            ])),
            Cell::from(Line::from(clock(t.duration_ms)).right_aligned()),
        ]);
        if current {
            row.green().bold()
        } else {
            row
        }
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(1 + digits as u16),
            Constraint::Fill(1),
            Constraint::Length(5),
        ],
    )
    .block(Block::bordered().title(" Playlist · Enter queues "))
    .row_highlight_style(Style::new().reversed());
    let mut state = TableState::default().with_selected(Some(screen.selected()));
    frame.render_stateful_widget(table, area, &mut state);
}

/// The volume bar, mute and shuffle.
fn draw_sound(frame: &mut Frame<'_>, area: Rect, view: &PlayerView) {
    let block = Block::bordered().title(" Sound ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [volume, shuffle] = Layout::vertical([Constraint::Length(1); 2]).areas(inner);
    let (label, color) = if view.muted {
        (format!("muted · {}", view.volume), Color::DarkGray)
    } else {
        (format!("volume {}", view.volume), Color::Magenta)
    };
    frame.render_widget(
        Gauge::default()
            .percent(u16::from(view.volume.min(100)))
            .label(Span::from(label).bold())
            .gauge_style(Style::new().fg(color).bg(Color::Black))
            .use_unicode(true),
        volume,
    );
    let shuffle_text = if view.shuffle {
        "shuffle on".bold()
    } else {
        "shuffle off".dim()
    };
    frame.render_widget(Line::from(shuffle_text), shuffle);
}

/// The queue, head first, then where the playlist goes on.
fn draw_up_next(frame: &mut Frame<'_>, area: Rect, view: &PlayerView) {
    let name = |id: u32| match view.track_by_id(id) {
        Some(t) => format!("{} — {}", printable(&t.title), printable(&t.artist)),
        None => format!("(track {id})"),
    };
    let mut lines: Vec<Line<'_>> = view
        .queue
        .iter()
        .enumerate()
        .map(|(i, id)| Line::from(format!("{}. {}", i + 1, name(*id))))
        .collect();
    if lines.is_empty() {
        lines.push(Line::from("nothing queued".dim()));
    }
    let after = view
        .cursor
        .checked_add(1)
        .and_then(|c| view.order.get(c as usize));
    match after {
        Some(id) => lines.push(Line::from(format!("then {}", name(*id)).dim())),
        None if view.queue.is_empty() => lines.push(Line::from("then the end".dim())),
        None => {}
    }
    let block = Block::bordered().title(format!(" Up next · {} queued ", view.queue.len()));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn status_line(screen: &RemoteScreen) -> Line<'static> {
    let (tv, me) = (printable(screen.tv()), printable(screen.name()));
    match screen.status() {
        Status::Trouble(what) => Line::from(format!("⚠ {}", printable(&what)))
            .yellow()
            .bold(),
        Status::Rejected(reason) => Line::from(format!("✗ {}", printable(&reason))).red().bold(),
        Status::Failed(what) => Line::from(format!("✗ {}", printable(&what))).red(),
        Status::Connected => Line::from(format!("connected to {tv} as {me}")).dim(),
        Status::Connecting => Line::from(format!("connecting to {tv}…")).dim(),
    }
}

fn help_line(keys: &[(&'static str, &'static str)]) -> Line<'static> {
    let mut spans = Vec::new();
    for (i, (key, what)) in keys.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw("  "));
        }
        spans.push(Span::from(*key).bold());
        spans.push(Span::from(format!(" {what}")).dim());
    }
    Line::from(spans)
}
