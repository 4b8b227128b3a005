//! `spec.behavior`: the scaling policies and stabilization windows of each direction, with the
//! API's defaults.

/// `--horizontal-pod-autoscaler-downscale-stabilization`: the window of HPAs without
/// `spec.behavior`, and of a behavior's scale-down rules that leave the window unset.
pub const DEFAULT_DOWNSCALE_STABILIZATION_SECONDS: u32 = 300;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    /// Add/remove at most `value` pods per period.
    Pods,
    /// Add/remove at most `value` % of the replicas at the start of the period.
    Percent,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScalingPolicy {
    pub kind: PolicyKind,
    pub value: u32,
    pub period_seconds: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelectPolicy {
    /// The policy allowing the biggest change.
    Max,
    /// The policy allowing the smallest change.
    Min,
    /// No scaling in this direction.
    Disabled,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScalingRules {
    pub stabilization_window_seconds: u32,
    pub select: SelectPolicy,
    pub policies: Vec<ScalingPolicy>,
}

impl ScalingRules {
    /// The API's default scale-up rules: no window, the larger of +4 pods and +100 % per 15 s.
    pub fn default_scale_up() -> Self {
        Self {
            stabilization_window_seconds: 0,
            select: SelectPolicy::Max,
            policies: vec![
                ScalingPolicy {
                    kind: PolicyKind::Pods,
                    value: 4,
                    period_seconds: 15,
                },
                ScalingPolicy {
                    kind: PolicyKind::Percent,
                    value: 100,
                    period_seconds: 15,
                },
            ],
        }
    }

    /// The API's default scale-down rules, with the controller's default 300 s window.
    pub fn default_scale_down() -> Self {
        Self {
            stabilization_window_seconds: DEFAULT_DOWNSCALE_STABILIZATION_SECONDS,
            select: SelectPolicy::Max,
            policies: vec![ScalingPolicy {
                kind: PolicyKind::Percent,
                value: 100,
                period_seconds: 15,
            }],
        }
    }

    pub(super) fn longest_period(&self) -> i64 {
        self.policies
            .iter()
            .map(|p| i64::from(p.period_seconds))
            .max()
            .unwrap_or(0)
    }
}

/// `spec.behavior`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Behavior {
    pub scale_up: ScalingRules,
    pub scale_down: ScalingRules,
}

impl Default for Behavior {
    fn default() -> Self {
        Self {
            scale_up: ScalingRules::default_scale_up(),
            scale_down: ScalingRules::default_scale_down(),
        }
    }
}
