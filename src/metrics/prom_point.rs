//! One point of a range query's answer, `[1704067200, "0.12"]`, read straight into 16 bytes:
//! two weeks of a fleet's pods are a million points a query, and a point kept as its
//! timestamp and borrowed text (32 bytes, plus a second vector for the parsed values) was most
//! of the backfill's memory.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};

/// A timestamp (seconds, as sent) and its value; NaN when the text is not a number.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Point(pub f64, pub f64);

impl<'de> Deserialize<'de> for Point {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(PointVisitor)
    }
}

struct PointVisitor;

/// The value's text, borrowed from the body when it can be.
struct Text(f64);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(Text(text.parse::<f64>().unwrap_or(f64::NAN)))
    }
}

impl<'de> Visitor<'de> for PointVisitor {
    type Value = Point;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a [timestamp, \"value\"] pair")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Point, A::Error> {
        let t: f64 = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let Text(v) = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(1, &self))?;
        if seq.next_element::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::invalid_length(3, &self));
        }
        Ok(Point(t, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_is_its_timestamp_and_parsed_value_and_nan_for_text() {
        let p: Vec<Point> =
            serde_json::from_str(r#"[[1704067200,"0.12"],[1704067260.4,"+Inf"],[1,"x"]]"#)
                .unwrap_or_default();
        assert_eq!(p.len(), 3);
        assert_eq!(p[0], Point(1_704_067_200.0, 0.12));
        assert_eq!(p[1], Point(1_704_067_260.4, f64::INFINITY));
        assert!(p[2].1.is_nan());
        assert!(serde_json::from_str::<Point>(r#"[1]"#).is_err());
        assert!(serde_json::from_str::<Point>(r#"[1,"2",3]"#).is_err());
        assert_eq!(std::mem::size_of::<Point>(), 16);
    }
}
