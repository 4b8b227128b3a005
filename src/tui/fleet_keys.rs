//! The fleet screen's keys and the open context's row: Enter takes `:ctx`'s path, Esc goes
//! back to the deployments, `r` asks for a round of probes now.

use crate::fleet::{Board, Summary, summary};

use super::action::FleetAction;
use super::app::{App, Severity};
use super::fleet_screen::FleetScreen;
use super::popups::{Help, Popup};

impl App {
    /// `:fleet`: every context on one screen; the probes start at the loop's next turn.
    pub fn open_fleet(&mut self) {
        let board = Board::new(&self.contexts, &self.session.context);
        self.fleet = Some(FleetScreen::new(board));
    }

    /// What a key does on the fleet screen.
    pub fn fleet_key(&mut self, action: FleetAction) {
        let Some(screen) = self.fleet.as_mut() else {
            return;
        };
        self.message = None;
        let last = screen.board.rows().len().saturating_sub(1);
        match action {
            FleetAction::Down => screen.selected = (screen.selected + 1).min(last),
            FleetAction::Up => screen.selected = screen.selected.saturating_sub(1),
            FleetAction::Refresh => {
                screen.wants_round = true;
                self.message = Some(("probing every context…".into(), Severity::Info));
            }
            FleetAction::Back => self.fleet = None,
            FleetAction::Help => {
                self.popup = Some(Popup::Help(Help::new(&self.keymap, self.session.read_only)));
            }
            FleetAction::Open => match screen.selected_context().map(str::to_string) {
                // The open one: back to its deployments.
                Some(name) if name == self.session.context => self.fleet = None,
                Some(name) => self.ask_context(&name),
                None => {}
            },
        }
    }

    /// The open context's row, from what its engine has sent: its cards and its advisor's
    /// status.
    pub fn live_summary(&self) -> Summary {
        let rows = self.deployments.values().map(|v| {
            let rec = v.recommendation.as_deref();
            (&v.state, rec, rec.is_some_and(|r| self.is_dismissed(r)))
        });
        summary::count(rows, crate::fleet::LlmState::from_status(&self.llm_status))
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::fleet::Probed;
    use crate::fleet::{Answer, LlmState, Unreachable};
    use crate::tui::app::SessionInfo;
    use crate::tui::fleet_screen::REFRESH_EVERY;

    fn app() -> App {
        let mut app = App::new(SessionInfo {
            context: "a".into(),
            ..SessionInfo::default()
        });
        app.contexts = ["a", "b", "c"].map(String::from).to_vec();
        app
    }

    fn ok(round: u64, context: &str) -> Probed {
        Probed {
            round,
            context: context.into(),
            result: Ok(Answer {
                summary: Summary {
                    deployments: 3,
                    at_max: 0,
                    pending: 1,
                    savings_replica_hours_per_day: None,
                    llm: LlmState::Off("no key: policy only".into()),
                },
                no_metrics: None,
            }),
            took: Duration::from_millis(5),
        }
    }

    #[test]
    fn rounds_start_on_open_on_r_and_after_the_period() {
        let mut app = app();
        app.open_fleet();
        let t0 = Instant::now();
        let screen = app.fleet.as_mut().expect("open");
        assert_eq!(
            screen.selected_context(),
            Some("a"),
            "starts on the open one"
        );
        let (round, contexts) = screen.due_round(t0).expect("opening asks for a round");
        assert_eq!(contexts, ["b", "c"]);
        assert!(screen.due_round(t0).is_none(), "one round at a time");
        assert!(screen.on_probed(ok(round, "b"), t0));
        let down = Probed {
            result: Err(Unreachable {
                reason: crate::fleet::Reason::Timeout,
                detail: "no answer within 5 s".into(),
            }),
            ..ok(round, "c")
        };
        assert!(screen.on_probed(down, t0));
        assert!(screen.due_round(t0 + REFRESH_EVERY / 2).is_none());
        assert!(screen.due_round(t0 + REFRESH_EVERY).is_some(), "the period");
        app.fleet_key(FleetAction::Refresh);
        let screen = app.fleet.as_mut().expect("open");
        assert!(screen.due_round(t0).is_some(), "r asks for one at once");
    }

    #[test]
    fn enter_opens_the_selected_context_and_esc_goes_back() {
        let mut app = app();
        app.open_fleet();
        // Enter on the open context: back to its deployments.
        app.fleet_key(FleetAction::Open);
        assert!(app.fleet.is_none() && app.switch_context.is_none());
        app.open_fleet();
        app.fleet_key(FleetAction::Down);
        app.fleet_key(FleetAction::Down);
        app.fleet_key(FleetAction::Down);
        assert_eq!(
            app.fleet.as_ref().and_then(|f| f.selected_context()),
            Some("c"),
            "stops at the last row"
        );
        app.fleet_key(FleetAction::Up);
        app.fleet_key(FleetAction::Open);
        assert_eq!(app.switch_context.as_deref(), Some("b"), ":ctx's path");
        assert!(app.fleet.is_some(), "shown until the new session is up");
        app.fleet_key(FleetAction::Back);
        assert!(app.fleet.is_none());
    }
}
