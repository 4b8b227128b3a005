//! How a stored object shows through the resource version a client asked for: HPAs are stored
//! as autoscaling/v2 and converted for autoscaling/v1, as the API server converts them.

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;

use super::discovery::Backend;
use super::objects;
use super::status::ApiError;

/// An object's JSON as the resource's version shows it (HPAs convert to v1).
pub fn view_json(backend: Backend, json: &str) -> Result<String, ApiError> {
    match backend {
        Backend::HpaV1 => {
            let v2: HorizontalPodAutoscaler = serde_json::from_str(json)
                .map_err(|e| ApiError::bad_request(format!("stored object: {e}")))?;
            serde_json::to_string(&objects::hpa_to_v1(&v2))
                .map_err(|e| ApiError::bad_request(e.to_string()))
        }
        _ => Ok(json.to_string()),
    }
}
