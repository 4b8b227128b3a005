//! The panes of the main screen, one file each; each draws from the `App` into its area.

pub mod card;
pub mod chart;
pub mod deployments;
pub mod first_view;
pub mod fleet;
pub mod sparklines;
pub mod status;
