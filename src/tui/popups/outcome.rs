//! What a popup asks of the app after a key: the popup decides, the app carries it out.

use crate::actions::Plan;

#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The popup stays open (the key edited it, moved in it, or did nothing).
    Stay,
    /// Close it; nothing else.
    Close,
    /// Close it and say that nothing changed.
    Cancelled,
    /// Close it and carry out the write, saying `message` until it is done.
    Write {
        plan: Box<Plan>,
        message: &'static str,
    },
    /// Ask for confirmation of the plan first (a new HPA).
    Confirm(Box<Plan>),
    /// The namespace picker chose; None is every namespace.
    Namespace(Option<String>),
    /// The context picker chose.
    Context(String),
    /// The filter's text changed: it applies as it is typed.
    Filter(String),
    /// Esc in the filter: close it and clear the filter.
    ClearFilter,
    /// Enter on the command line.
    Command(String),
    /// Close it and write the plan as a patch for git (`actions::gitops`); `apply`: carry
    /// out the write too.
    GitPatch { plan: Box<Plan>, apply: bool },
}
