//! Just enough of the Kubernetes protobuf encoding to read the HPA bodies typed clients send
//! (`kubectl autoscale` POSTs `application/vnd.kubernetes.protobuf`): the `k8s\0` envelope
//! around `runtime.Unknown`, and HorizontalPodAutoscaler v1/v2 decoded into the JSON the rest
//! of the server works on. Field numbers are those of k8s.io/api's generated.proto.

use serde_json::{Map, Value};

use super::status::ApiError;

pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";
const MAGIC: &[u8] = b"k8s\x00";

#[derive(Clone, Copy)]
enum F {
    Str(&'static str),
    Int(&'static str),
    Msg(&'static str, &'static [(u32, F)]),
    Repeated(&'static str, &'static [(u32, F)]),
    /// map<string, string>: repeated entries of key = 1, value = 2.
    StrMap(&'static str),
    /// resource.Quantity: a message whose field 1 is the string form.
    Quantity(&'static str),
}

const OBJECT_META: &[(u32, F)] = &[
    (1, F::Str("name")),
    (2, F::Str("generateName")),
    (3, F::Str("namespace")),
    (5, F::Str("uid")),
    (6, F::Str("resourceVersion")),
    (11, F::StrMap("labels")),
    (12, F::StrMap("annotations")),
];
const TARGET_REF: &[(u32, F)] = &[
    (1, F::Str("kind")),
    (2, F::Str("name")),
    (3, F::Str("apiVersion")),
];
const METRIC_TARGET: &[(u32, F)] = &[
    (1, F::Str("type")),
    (2, F::Quantity("value")),
    (3, F::Quantity("averageValue")),
    (4, F::Int("averageUtilization")),
];
const RESOURCE_SOURCE: &[(u32, F)] = &[(1, F::Str("name")), (2, F::Msg("target", METRIC_TARGET))];
/// Other metric sources are kept as present-but-empty: the simulator refuses them anyway.
const OPAQUE: &[(u32, F)] = &[];
const METRIC_SPEC: &[(u32, F)] = &[
    (1, F::Str("type")),
    (2, F::Msg("object", OPAQUE)),
    (3, F::Msg("pods", OPAQUE)),
    (4, F::Msg("resource", RESOURCE_SOURCE)),
    (5, F::Msg("external", OPAQUE)),
    (7, F::Msg("containerResource", OPAQUE)),
];
const POLICY: &[(u32, F)] = &[
    (1, F::Str("type")),
    (2, F::Int("value")),
    (3, F::Int("periodSeconds")),
];
const RULES: &[(u32, F)] = &[
    (1, F::Str("selectPolicy")),
    (2, F::Repeated("policies", POLICY)),
    (3, F::Int("stabilizationWindowSeconds")),
    (4, F::Quantity("tolerance")),
];
const BEHAVIOR: &[(u32, F)] = &[
    (1, F::Msg("scaleUp", RULES)),
    (2, F::Msg("scaleDown", RULES)),
];
const SPEC_V2: &[(u32, F)] = &[
    (1, F::Msg("scaleTargetRef", TARGET_REF)),
    (2, F::Int("minReplicas")),
    (3, F::Int("maxReplicas")),
    (4, F::Repeated("metrics", METRIC_SPEC)),
    (5, F::Msg("behavior", BEHAVIOR)),
];
const SPEC_V1: &[(u32, F)] = &[
    (1, F::Msg("scaleTargetRef", TARGET_REF)),
    (2, F::Int("minReplicas")),
    (3, F::Int("maxReplicas")),
    (4, F::Int("targetCPUUtilizationPercentage")),
];
/// Status is ignored on writes, so it is not decoded.
const HPA_V2: &[(u32, F)] = &[
    (1, F::Msg("metadata", OBJECT_META)),
    (2, F::Msg("spec", SPEC_V2)),
];
const HPA_V1: &[(u32, F)] = &[
    (1, F::Msg("metadata", OBJECT_META)),
    (2, F::Msg("spec", SPEC_V1)),
];

struct Reader<'a> {
    buf: &'a [u8],
}

fn malformed() -> ApiError {
    ApiError::bad_request("failed to decode the protobuf body")
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, ApiError> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let (&b, rest) = self.buf.split_first().ok_or_else(malformed)?;
            self.buf = rest;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(malformed())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ApiError> {
        if n > self.buf.len() {
            return Err(malformed());
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn bytes(&mut self) -> Result<&'a [u8], ApiError> {
        let n = usize::try_from(self.varint()?).map_err(|_| malformed())?;
        self.take(n)
    }

    fn skip(&mut self, wire: u64) -> Result<(), ApiError> {
        match wire {
            0 => self.varint().map(drop),
            1 => self.take(8).map(drop),
            2 => self.bytes().map(drop),
            5 => self.take(4).map(drop),
            _ => Err(malformed()),
        }
    }
}

fn text(b: &[u8]) -> Result<Value, ApiError> {
    std::str::from_utf8(b)
        .map(|s| Value::String(s.to_string()))
        .map_err(|_| malformed())
}

/// Decode a message per `schema`; unknown fields are skipped, as protobuf readers do.
fn message(buf: &[u8], schema: &[(u32, F)], depth: u32) -> Result<Map<String, Value>, ApiError> {
    if depth > 16 {
        return Err(malformed());
    }
    let mut r = Reader { buf };
    let mut out = Map::new();
    while !r.buf.is_empty() {
        let tag = r.varint()?;
        let (field, wire) = (tag >> 3, tag & 7);
        let Some((_, f)) = schema.iter().find(|(n, _)| u64::from(*n) == field) else {
            r.skip(wire)?;
            continue;
        };
        match (*f, wire) {
            (F::Str(name), 2) => {
                out.insert(name.into(), text(r.bytes()?)?);
            }
            // int32 on the wire is a varint of the sign-extended 64-bit value.
            (F::Int(name), 0) => {
                out.insert(name.into(), Value::from(r.varint()? as i64 as i32));
            }
            (F::Msg(name, sub), 2) => {
                let m = message(r.bytes()?, sub, depth + 1)?;
                out.insert(name.into(), Value::Object(m));
            }
            (F::Repeated(name, sub), 2) => {
                let m = message(r.bytes()?, sub, depth + 1)?;
                let list = out.entry(name).or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(a) = list {
                    a.push(Value::Object(m));
                }
            }
            (F::StrMap(name), 2) => {
                let entry = message(
                    r.bytes()?,
                    &[(1, F::Str("key")), (2, F::Str("value"))],
                    depth + 1,
                )?;
                let key = entry.get("key").and_then(Value::as_str).unwrap_or_default();
                let value = entry.get("value").cloned().unwrap_or(Value::from(""));
                let map = out.entry(name).or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(m) = map {
                    m.insert(key.to_string(), value);
                }
            }
            (F::Quantity(name), 2) => {
                let q = message(r.bytes()?, &[(1, F::Str("string"))], depth + 1)?;
                out.insert(
                    name.into(),
                    q.get("string").cloned().unwrap_or(Value::from("0")),
                );
            }
            (_, wire) => return Err(malformed().with_detail(wire)),
        }
    }
    Ok(out)
}

impl ApiError {
    fn with_detail(mut self, wire: u64) -> Self {
        self.message = format!("{}: unexpected wire type {wire}", self.message);
        self
    }
}

/// An HPA (autoscaling/v1 when `v1`) from a protobuf request body, as JSON.
pub fn decode_hpa(body: &[u8], v1: bool) -> Result<Value, ApiError> {
    let payload = body.strip_prefix(MAGIC).ok_or_else(malformed)?;
    // runtime.Unknown: raw (2) holds the object; a contentEncoding (3) means compression.
    let mut r = Reader { buf: payload };
    let mut raw: &[u8] = &[];
    while !r.buf.is_empty() {
        let tag = r.varint()?;
        match (tag >> 3, tag & 7) {
            (2, 2) => raw = r.bytes()?,
            (3, 2) => {
                if !r.bytes()?.is_empty() {
                    return Err(ApiError::bad_request(
                        "compressed protobuf bodies are not supported",
                    ));
                }
            }
            (_, wire) => r.skip(wire)?,
        }
    }
    let obj = message(raw, if v1 { HPA_V1 } else { HPA_V2 }, 0)?;
    Ok(Value::Object(obj))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    fn bytes_field(field: u32, b: &[u8], out: &mut Vec<u8>) {
        varint(u64::from(field << 3 | 2), out);
        varint(b.len() as u64, out);
        out.extend_from_slice(b);
    }

    fn int_field(field: u32, v: i32, out: &mut Vec<u8>) {
        varint(u64::from(field << 3), out);
        varint(v as i64 as u64, out);
    }

    #[test]
    fn an_autoscale_body_decodes() {
        let mut target = Vec::new();
        bytes_field(1, b"Deployment", &mut target);
        bytes_field(2, b"ledger", &mut target);
        bytes_field(3, b"apps/v1", &mut target);
        let mut mt = Vec::new();
        bytes_field(1, b"Utilization", &mut mt);
        int_field(4, 60, &mut mt);
        let mut rs = Vec::new();
        bytes_field(1, b"cpu", &mut rs);
        bytes_field(2, &mt, &mut rs);
        let mut metric = Vec::new();
        bytes_field(1, b"Resource", &mut metric);
        bytes_field(4, &rs, &mut metric);
        let mut spec = Vec::new();
        bytes_field(1, &target, &mut spec);
        int_field(2, 2, &mut spec);
        int_field(3, 5, &mut spec);
        bytes_field(4, &metric, &mut spec);
        let mut label = Vec::new();
        bytes_field(1, b"team", &mut label);
        bytes_field(2, b"pay", &mut label);
        let mut meta = Vec::new();
        bytes_field(1, b"ledger", &mut meta);
        bytes_field(11, &label, &mut meta);
        varint(7 << 3, &mut meta); // an unknown varint field is skipped
        varint(3, &mut meta);
        let mut hpa = Vec::new();
        bytes_field(1, &meta, &mut hpa);
        bytes_field(2, &spec, &mut hpa);
        let mut type_meta = Vec::new();
        bytes_field(1, b"autoscaling/v2", &mut type_meta);
        bytes_field(2, b"HorizontalPodAutoscaler", &mut type_meta);
        let mut unknown = Vec::new();
        bytes_field(1, &type_meta, &mut unknown);
        bytes_field(2, &hpa, &mut unknown);
        bytes_field(4, b"application/vnd.kubernetes.protobuf", &mut unknown);
        let body = [MAGIC, &unknown].concat();

        let v = decode_hpa(&body, false).expect("decodes");
        assert_eq!(v["metadata"]["name"], "ledger");
        assert_eq!(v["metadata"]["labels"]["team"], "pay");
        assert_eq!(v["spec"]["scaleTargetRef"]["kind"], "Deployment");
        assert_eq!(v["spec"]["minReplicas"], 2);
        assert_eq!(v["spec"]["maxReplicas"], 5);
        assert_eq!(
            v["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            60
        );
        let typed: k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler =
            serde_json::from_value(v).expect("a v2 HPA");
        assert_eq!(typed.spec.map(|s| s.max_replicas), Some(5));

        assert_eq!(decode_hpa(b"nope", false).map_err(|e| e.code), Err(400));
        assert_eq!(
            decode_hpa(&[MAGIC, &[0x12, 0x05, 0x0a]].concat(), false).map_err(|e| e.code),
            Err(400),
            "truncated"
        );
    }
}
