//! What another process wrote to the shared state, taken into this one's: the budget always
//! (it is everyone's count), the rest when another writer moved the document on. Each piece
//! keeps its own rule, so nobody's work is overwritten: the newer answer per cache key, the
//! later call per deployment, every retired model, the more recent memory per deployment.

use super::Inner;
use super::shared::Loaded;

impl Inner {
    pub(super) fn absorb(&mut self, loaded: Loaded) {
        self.budget = loaded.budget;
        let Some(theirs) = loaded.changed else {
            return;
        };
        self.cache.merge(theirs.cache);
        self.limiter
            .merge(&theirs.last_calls, &theirs.last_call_walls);
        for m in theirs.retired_models {
            if !self.retired.contains(&m) {
                self.retired.push(m);
            }
        }
        for (dep, their_memory) in theirs.memory {
            match self.memory.get(&dep) {
                Some(mine) if mine.last_active() >= their_memory.last_active() => {}
                _ => {
                    self.memory.insert(dep, their_memory);
                }
            }
        }
        // Placeholders are handed out only inside a transaction, after this merge, so the
        // shared map already holds every placeholder any process has used.
        self.anonymizer = theirs.anonymizer;
    }
}
