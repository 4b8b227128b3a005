//! What the other owners of a deployment mean for a write, in words the card and the confirm
//! dialog share: KEDA's ScaledObject is written instead of its HPA, a VPA in Auto or Recreate
//! mode fights the HPA, a GitOps controller puts back what its git source sets.

use crate::model::Ownership;

/// How serious a note is: the dialog and the card colour them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// How the app writes around the owner (KEDA).
    Info,
    /// The change may be undone or fought.
    Warning,
}

/// The notes for a deployment's owners, most serious first.
pub fn notes(o: &Ownership) -> Vec<(Severity, String)> {
    let mut out = Vec::new();
    if let Some(a) = &o.autopilot {
        out.push((
            Severity::Warning,
            format!(
                "the in-cluster autopilot (lease {}, held by {}) manages it: it may undo a \
                 change made here at its next decision",
                a.lease, a.holder
            ),
        ));
    }
    if let Some(g) = &o.gitops {
        out.push((
            Severity::Warning,
            format!(
                "{} tracks it ({}): a change applied here is reverted at its next sync unless \
                 it is also in git",
                g.tool, g.detail
            ),
        ));
    }
    if let Some(v) = o.vpa_conflict() {
        out.push((
            Severity::Warning,
            format!(
                "vpa/{} ({} mode, {}) evicts these pods to resize them: it fights the HPA on \
                 the same metric (a known upstream conflict) and moves the requests the \
                 forecasts are in % of; set its updateMode to Off or Initial, or leave {} out \
                 of its controlledResources",
                v.name,
                v.mode,
                v.resources.join("+"),
                v.resources.join(" and ")
            ),
        ));
    }
    if let Some(k) = &o.keda {
        out.push((
            Severity::Info,
            format!(
                "KEDA: its HPA is made by scaledobject/{} (min {}, max {}), so floors and \
                 bounds are written there; its triggers own the HPA's metrics",
                k.name, k.min_replica_count, k.max_replica_count
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ownership::{GitOps, GitOpsTool, ScaledObjectRef, VpaMode, VpaRef};

    #[test]
    fn each_owner_says_what_it_does_to_a_write() {
        assert!(notes(&Ownership::default()).is_empty());
        let o = Ownership {
            keda: Some(ScaledObjectRef {
                name: "web".into(),
                min_replica_count: 2,
                max_replica_count: 9,
            }),
            vpa: Some(VpaRef {
                name: "web".into(),
                mode: VpaMode::Auto,
                resources: vec!["cpu".into(), "memory".into()],
            }),
            gitops: Some(GitOps {
                tool: GitOpsTool::ArgoCd,
                detail: "application shop on deployment/web".into(),
            }),
            autopilot: None,
        };
        let n = notes(&o);
        assert_eq!(n.len(), 3);
        assert_eq!(n[0].0, Severity::Warning);
        assert!(
            n[0].1
                .starts_with("Argo CD tracks it (application shop on deployment/web)")
        );
        assert!(n[1].1.starts_with("vpa/web (Auto mode, cpu+memory)"));
        assert_eq!(n[2].0, Severity::Info);
        assert!(n[2].1.contains("scaledobject/web (min 2, max 9)"));
        // A VPA that only recommends is no conflict.
        let off = Ownership {
            vpa: Some(VpaRef {
                mode: VpaMode::Off,
                ..o.vpa.clone().expect("vpa")
            }),
            ..Ownership::default()
        };
        assert!(notes(&off).is_empty());
    }

    #[test]
    fn an_in_cluster_autopilot_warns_first_and_marks_the_row() {
        use crate::model::ownership::AutopilotRef;
        let o = Ownership {
            autopilot: Some(AutopilotRef {
                lease: "ai4k8s/ai4k8s-autopilot".into(),
                holder: "ai4k8s-7d9f_1".into(),
                scope: None,
            }),
            ..Ownership::default()
        };
        let n = notes(&o);
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].0, Severity::Warning);
        assert!(
            n[0].1
                .contains("lease ai4k8s/ai4k8s-autopilot, held by ai4k8s-7d9f_1")
                && n[0].1.contains("may undo"),
            "{}",
            n[0].1
        );
        assert_eq!(o.marker(), "A");
    }
}
