//! A forecast's points, stored compactly: the points of a forecast are regular (one every
//! `step` seconds from the first), so their timestamps are not stored, and the value and band
//! are kept as `f32` (a forecast of a percentage needs no more than seven digits). 12 bytes a
//! point instead of a `ForecastPoint`'s 32: a six-hour forecast at one minute is 4 KB, and a
//! fleet of a thousand deployments holds two each for as long as it runs. Read back as
//! `ForecastPoint`s; serialized as the list of them, so the JSON is unchanged.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{ForecastPoint, UnixSeconds};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ForecastPoints {
    first: UnixSeconds,
    step: u32,
    /// value, lower, upper.
    values: Vec<[f32; 3]>,
}

impl ForecastPoints {
    /// Points at `first`, `first + step`, … from (value, lower, upper).
    pub fn new(
        first: UnixSeconds,
        step: u32,
        values: impl IntoIterator<Item = (f64, f64, f64)>,
    ) -> Self {
        Self {
            first,
            step,
            values: values
                .into_iter()
                .map(|(v, l, u)| [v as f32, l as f32, u as f32])
                .collect(),
        }
    }

    /// From points one `step` apart (the timestamps after the first are not read).
    pub fn from_points(step: u32, points: &[ForecastPoint]) -> Self {
        Self::new(
            points.first().map_or(0, |p| p.timestamp),
            step,
            points.iter().map(|p| (p.value, p.lower, p.upper)),
        )
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn get(&self, i: usize) -> Option<ForecastPoint> {
        self.values.get(i).map(|v| self.point(i, v))
    }

    pub fn last(&self) -> Option<ForecastPoint> {
        self.len().checked_sub(1).and_then(|i| self.get(i))
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = ForecastPoint> + ExactSizeIterator + '_ {
        self.values
            .iter()
            .enumerate()
            .map(|(i, v)| self.point(i, v))
    }

    /// The same points with value and band passed through `f`.
    pub fn map_values(&self, f: impl Fn(f64) -> f64) -> Self {
        Self::new(
            self.first,
            self.step,
            self.iter().map(|p| (f(p.value), f(p.lower), f(p.upper))),
        )
    }

    fn point(&self, i: usize, v: &[f32; 3]) -> ForecastPoint {
        ForecastPoint {
            timestamp: self.first + i as i64 * self.step as i64,
            value: f64::from(v[0]),
            lower: f64::from(v[1]),
            upper: f64::from(v[2]),
        }
    }
}

impl Serialize for ForecastPoints {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for ForecastPoints {
    /// A list of points; they must be one step apart, as every forecast's are.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let points = Vec::<ForecastPoint>::deserialize(d)?;
        let step = match points.as_slice() {
            [a, b, ..] => u32::try_from(b.timestamp - a.timestamp)
                .ok()
                .filter(|s| *s > 0)
                .ok_or_else(|| serde::de::Error::custom("forecast points must be in time order"))?,
            _ => 0,
        };
        let regular = points
            .windows(2)
            .all(|w| w[1].timestamp - w[0].timestamp == step as i64);
        if !regular {
            return Err(serde::de::Error::custom(
                "forecast points must be one step apart",
            ));
        }
        Ok(Self::from_points(step, &points))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_come_back_at_their_times_with_their_values() {
        let p = ForecastPoints::new(1_000, 60, [(40.5, 30.25, 50.0), (41.0, 31.0, 52.75)]);
        assert_eq!(p.len(), 2);
        assert_eq!(
            p.last(),
            Some(ForecastPoint {
                timestamp: 1_060,
                value: 41.0,
                lower: 31.0,
                upper: 52.75
            })
        );
        assert_eq!(
            p.iter().rev().map(|x| x.timestamp).collect::<Vec<_>>(),
            [1_060, 1_000]
        );
        assert!(p.get(2).is_none() && ForecastPoints::default().last().is_none());
        // f32: seven digits of a percentage survive.
        let q = ForecastPoints::new(0, 60, [(73.123_456_789, 0.0, 0.0)]);
        assert!((q.get(0).map_or(0.0, |x| x.value) - 73.123_456_789).abs() < 1e-5);
    }

    #[test]
    fn the_json_is_the_list_of_points_and_reads_back() {
        let p = ForecastPoints::new(
            1_000,
            300,
            [(1.0, 0.5, 2.0), (3.0, 2.5, 4.0), (5.0, 4.0, 6.0)],
        );
        let json = serde_json::to_value(&p).expect("json");
        assert_eq!(json[2]["timestamp"], 1_600);
        assert_eq!(json[1]["upper"], 4.0);
        let back: ForecastPoints = serde_json::from_value(json).expect("reads back");
        assert_eq!(back, p);
        let map = p.map_values(|v| v * 2.0);
        assert_eq!(
            map.get(1).map(|x| (x.timestamp, x.value, x.upper)),
            Some((1_300, 6.0, 8.0))
        );
    }

    #[test]
    fn irregular_points_are_refused() {
        let json = serde_json::json!([
            {"timestamp": 0, "value": 1.0, "lower": 0.0, "upper": 2.0},
            {"timestamp": 60, "value": 1.0, "lower": 0.0, "upper": 2.0},
            {"timestamp": 200, "value": 1.0, "lower": 0.0, "upper": 2.0}
        ]);
        let err = serde_json::from_value::<ForecastPoints>(json).expect_err("irregular");
        assert!(err.to_string().contains("one step apart"), "{err}");
        let back = serde_json::json!([
            {"timestamp": 60, "value": 1.0, "lower": 0.0, "upper": 2.0},
            {"timestamp": 0, "value": 1.0, "lower": 0.0, "upper": 2.0}
        ]);
        assert!(serde_json::from_value::<ForecastPoints>(back).is_err());
    }
}
