//! Connecting like kubectl: `--kubeconfig`, else `$KUBECONFIG` (merged), else `~/.kube/config`,
//! else the in-cluster service account; `--context` picks the context.

use std::path::Path;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::cluster::ClusterError;

/// A client and the name of the context it talks to ("in-cluster" for a service account).
pub struct Connection {
    pub client: Client,
    pub context: String,
    pub default_namespace: String,
    /// The same credentials without kube's retry of 503s (for the service proxy).
    pub proxy_client: Client,
}

/// rustls needs a process-wide crypto provider; a second install is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn read(kubeconfig: Option<&Path>) -> Result<Option<Kubeconfig>, ClusterError> {
    match kubeconfig {
        Some(p) => Kubeconfig::read_from(p)
            .map(Some)
            .map_err(|e| ClusterError::Invalid(format!("kubeconfig {}: {e}", p.display()))),
        None => match Kubeconfig::read() {
            Ok(k) => Ok(Some(k)),
            // $KUBECONFIG names a broken file: say so rather than fall back silently.
            Err(e) if std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty()) => {
                Err(ClusterError::Invalid(format!("$KUBECONFIG: {e}")))
            }
            Err(_) => Ok(None),
        },
    }
}

/// Context names in the kubeconfig and the current one.
pub fn contexts(kubeconfig: Option<&Path>) -> Result<(Vec<String>, Option<String>), ClusterError> {
    let Some(k) = read(kubeconfig)? else {
        return Ok((Vec::new(), None));
    };
    let names = k.contexts.iter().map(|c| c.name.clone()).collect();
    Ok((names, k.current_context))
}

pub async fn connect(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> Result<Connection, ClusterError> {
    install_crypto_provider();
    let (config, name) = match read(kubeconfig)? {
        Some(k) => {
            let name = match context
                .map(str::to_string)
                .or_else(|| k.current_context.clone())
            {
                Some(n) => n,
                None => {
                    return Err(ClusterError::Invalid(
                        "the kubeconfig has no current-context; pass --context".into(),
                    ));
                }
            };
            if !k.contexts.iter().any(|c| c.name == name) {
                let known: Vec<&str> = k.contexts.iter().map(|c| c.name.as_str()).collect();
                return Err(ClusterError::Invalid(format!(
                    "context {name:?} is not in the kubeconfig (contexts: {})",
                    known.join(", ")
                )));
            }
            let opts = KubeConfigOptions {
                context: Some(name.clone()),
                ..KubeConfigOptions::default()
            };
            let config = Config::from_custom_kubeconfig(k, &opts)
                .await
                .map_err(|e| ClusterError::Invalid(format!("kubeconfig context {name}: {e}")))?;
            (config, name)
        }
        None if context.is_some() => {
            return Err(ClusterError::Invalid(
                "--context given but no kubeconfig found ($KUBECONFIG, ~/.kube/config)".into(),
            ));
        }
        None => {
            let config = Config::incluster().map_err(|e| {
                ClusterError::Invalid(format!(
                    "no kubeconfig found ($KUBECONFIG, ~/.kube/config, --kubeconfig) and not in a cluster ({e}); try --demo"
                ))
            })?;
            (config, "in-cluster".to_string())
        }
    };
    let default_namespace = config.default_namespace.clone();
    // The service proxy's client does not retry a 503: through the proxy it means "no
    // endpoints", and kube's server retry would spend minutes on one dead candidate.
    let mut proxy_config = config.clone();
    proxy_config.default_retry = false;
    let client = Client::try_from(config).map_err(|e| {
        ClusterError::Invalid(format!("context {name}: cannot build a client: {e}"))
    })?;
    let proxy_client = Client::try_from(proxy_config).unwrap_or_else(|_| client.clone());
    Ok(Connection {
        client,
        context: name,
        default_namespace,
        proxy_client,
    })
}
