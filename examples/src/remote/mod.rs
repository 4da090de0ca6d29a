//! The remote-control media player: not a game but a device that several
//! people control at once, where every remote must show the same true
//! state.
//!
//! - [`protocol`]: the commands remotes send and the events the TV appends;
//! - [`view`]: [`PlayerView`], the state every remote shows, and its one
//!   reducer [`PlayerView::apply`];
//! - [`player`]: the [`RemoteApp`] the TV runs;
//! - [`tracks`]: the bundled playlist;
//! - [`tui`]: the terminal remote's screen, keys and link to the TV;
//! - [`web`]: the browser remote, a touch page the TV serves at `/`.
//!
//! A remote starts from the TV's snapshot (`GET /snapshot`, a
//! `PlayerView`) and applies the events after it, so one that joins late
//! shows the current state at once.

pub mod player;
pub mod protocol;
pub mod tracks;
pub mod tui;
pub mod view;
pub mod web;

pub use player::RemoteApp;
pub use protocol::{RemoteEvent, RemoteEventHandler, RemoteMsg, RemoteMsgClient, RemoteMsgHandler};
pub use tracks::Track;
pub use view::PlayerView;

/// A typed remote: sends [`RemoteMsg`]s (one generated method per kind:
/// `remote.volume_up().await?`) and reads [`RemoteEvent`]s.
pub type RemoteClient = RemoteMsgClient;
