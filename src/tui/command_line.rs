//! The command line (`:`): `:ns [NAME]`, `:ctx [NAME]`, `:fleet`, `:filter
//! pending|atmax|nometrics|off`, `:q`.

use super::app::{App, Severity};
use super::popups::{Picker, Popup};
use super::rows::QuickFilter;

impl App {
    /// `:ctx NAME`: ask the event loop to connect; the table stays until the new one is up.
    pub(crate) fn ask_context(&mut self, name: &str) {
        if name == self.session.context {
            self.message = Some((format!("already on context {name}"), Severity::Info));
        } else if self.contexts.iter().any(|c| c == name) {
            self.switch_context = Some(name.to_string());
            self.message = Some((format!("connecting to context {name}…"), Severity::Info));
        } else if self.contexts.is_empty() {
            self.message = Some((
                "this cluster has no other contexts (the demo has one)".into(),
                Severity::Error,
            ));
        } else {
            self.message = Some((
                format!(
                    "no context {name:?} in the kubeconfig (have: {})",
                    self.contexts.join(", ")
                ),
                Severity::Error,
            ));
        }
    }

    /// `:filter NAME` sets a quick filter, `:filter off` (or no name) clears it.
    fn quick_filter_command(&mut self, arg: Option<&str>) {
        match arg {
            None | Some("off" | "none") => self.set_quick_filter(None),
            Some(word) => match QuickFilter::parse(word) {
                Some(f) => self.set_quick_filter(Some(f)),
                None => {
                    let names: Vec<&str> = QuickFilter::ALL.iter().map(|f| f.name()).collect();
                    self.message = Some((
                        format!("no filter {word:?} (have: {}, off)", names.join(", ")),
                        Severity::Error,
                    ));
                }
            },
        }
    }

    /// Enter on the command line.
    pub(crate) fn run_command(&mut self, cmd: &str) {
        let mut words = cmd.split_whitespace();
        match (words.next(), words.next()) {
            (Some("q" | "quit" | "q!"), None) => self.should_quit = true,
            (Some("ns" | "namespace"), None) => self.pick_namespace(),
            (Some("ctx" | "context"), None) => match self.contexts.as_slice() {
                [] => self.ask_context(""),
                [only] => {
                    self.message = Some((
                        format!("the kubeconfig has one context: {only}"),
                        Severity::Info,
                    ));
                }
                all => {
                    let at = all
                        .iter()
                        .position(|c| c == &self.session.context)
                        .unwrap_or(0);
                    let picker = Picker::contexts(all.to_vec(), &self.session.context, at);
                    self.popup = Some(Popup::Picker(picker));
                }
            },
            (Some("ctx" | "context"), Some(name)) => self.ask_context(name),
            (Some("ns" | "namespace"), Some(name)) => {
                if name == "all" || name == "-A" {
                    self.set_namespace(None);
                } else if self.deployments.keys().any(|k| k.namespace == name) {
                    self.set_namespace(Some(name.to_string()));
                } else {
                    self.message = Some((
                        format!("no deployments in namespace {name:?}"),
                        Severity::Error,
                    ));
                }
            }
            (Some("filter" | "f"), arg) => self.quick_filter_command(arg),
            (Some("fleet"), None) => self.open_fleet(),
            (None, _) => {}
            _ => {
                self.message = Some((
                    format!(
                        "unknown command {cmd:?} (try :ns NAME, :ctx NAME, :fleet, :filter pending|atmax|nometrics|off, :q)"
                    ),
                    Severity::Error,
                ));
            }
        }
    }
}
