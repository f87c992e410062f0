//! The container runtime's own answers over its CRI socket (k8s-cri: the kubelet's
//! `runtime.v1` protocol over tonic): its readiness, the image filesystem, the images and the
//! containers. What `crictl info`, `crictl imagefsinfo`, `crictl images` and `crictl ps -a`
//! show, asked the same way.
//!
//! Read-only: only `RuntimeService.Status`, `ImageService.ImageFsInfo`,
//! `ImageService.ListImages` and `RuntimeService.ListContainers` are ever called. Never hangs: the connection and each call
//! have a deadline, the whole exchange another; a socket that accepts and never answers comes
//! back as a one-line reason, like a socket that is not there.

use crate::model::disk::{CriCondition, CriContainer, CriFsUsage, CriImage, CriSnapshot};
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::{ImageFsInfoRequest, ListContainersRequest, ListImagesRequest, StatusRequest};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Time to open the socket and finish the HTTP/2 handshake.
pub const CONNECT_DEADLINE: Duration = Duration::from_secs(2);
/// Time for one call; the kubelet's own default runtime request timeout is 2 minutes, but a
/// runtime that takes more than this to list its images is a finding, not something to wait on.
pub const CALL_DEADLINE: Duration = Duration::from_secs(3);
/// Time for the whole exchange, connection included.
pub const TOTAL_DEADLINE: Duration = Duration::from_secs(6);

/// The endpoints asked when the kubelet names none: its own default
/// (`unix:///run/containerd/containerd.sock`, kubelet `containerRuntimeEndpoint`), then CRI-O's.
pub const DEFAULT_ENDPOINTS: &[&str] = &[
    "unix:///run/containerd/containerd.sock",
    "unix:///var/run/crio/crio.sock",
];

pub use crate::model::disk::CRI_NO_SOCKET as NO_SOCKET;

/// The socket path of a `unix://` endpoint (or of a bare path, which old kubelets accepted);
/// `None` for any other scheme (`tcp://`, `npipe://`).
pub fn socket_path(endpoint: &str) -> Option<&str> {
    match endpoint.split_once("://") {
        Some(("unix", p)) => Some(p),
        Some(_) => None,
        None if endpoint.starts_with('/') => Some(endpoint),
        None => None,
    }
}

/// Where a socket path is under `root`. `/var/run` is a symbolic link to `/run` on every
/// current distribution, and an absolute link would resolve outside `root` (into the debug
/// pod's own `/run`), so `/var/run/...` is also looked for at `/run/...`.
fn under_root(root: &Path, path: &str) -> Vec<PathBuf> {
    let mut v = vec![root.join(path.trim_start_matches('/'))];
    if let Some(rest) = path.strip_prefix("/var/run/") {
        v.push(root.join("run").join(rest));
    }
    v
}

fn is_socket(p: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(p).is_ok_and(|m| m.file_type().is_socket())
}

/// Asks the first of `endpoints` whose socket exists under `root`.
pub fn query(root: &Path, endpoints: &[String]) -> CriSnapshot {
    let found = endpoints.iter().find_map(|e| {
        let path = socket_path(e)?;
        under_root(root, path)
            .into_iter()
            .find(|p| is_socket(p))
            .map(|p| (e.clone(), p))
    });
    let Some((endpoint, socket)) = found else {
        let named = endpoints.join(", ");
        return CriSnapshot {
            endpoint: endpoints.first().cloned().unwrap_or_default(),
            unavailable: Some(if endpoints.iter().all(|e| socket_path(e).is_some()) {
                format!("{NO_SOCKET}{named}")
            } else {
                format!("only unix sockets are asked, not {named}")
            }),
            ..CriSnapshot::default()
        };
    };
    let mut snap = CriSnapshot {
        endpoint,
        ..CriSnapshot::default()
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            snap.unavailable = Some(format!("cannot start the CRI client runtime: {e}"));
            return snap;
        }
    };
    let r =
        rt.block_on(async { tokio::time::timeout(TOTAL_DEADLINE, ask(&socket, &mut snap)).await });
    if r.is_err() && snap.unavailable.is_none() {
        snap.unavailable = Some(format!(
            "the runtime did not answer within {} s",
            TOTAL_DEADLINE.as_secs()
        ));
    }
    // A connection stuck in the kernel must not hold the process: drop its tasks, don't wait.
    rt.shutdown_background();
    snap
}

/// One call within [`CALL_DEADLINE`]; its error as one line.
async fn call<T, F>(what: &str, f: F) -> Result<T, String>
where
    F: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    match tokio::time::timeout(CALL_DEADLINE, f).await {
        Ok(Ok(r)) => Ok(r.into_inner()),
        Ok(Err(s)) if s.code() != tonic::Code::DeadlineExceeded => {
            Err(format!("{what}: {} ({:?})", s.message(), s.code()))
        }
        _ => Err(format!(
            "{what}: no answer within {} s",
            CALL_DEADLINE.as_secs()
        )),
    }
}

async fn ask(socket: &Path, snap: &mut CriSnapshot) {
    let uri = format!("unix://{}", socket.display());
    let endpoint = match tonic::transport::Endpoint::from_shared(uri) {
        // No transport-level request timeout: the deadline below is the one that counts, so a
        // silent runtime reads as "no answer" and the other calls are not waited out too.
        Ok(e) => e.connect_timeout(CONNECT_DEADLINE),
        Err(e) => {
            snap.unavailable = Some(format!("{}: {e}", socket.display()));
            return;
        }
    };
    let channel = match tokio::time::timeout(CONNECT_DEADLINE, endpoint.connect()).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            snap.unavailable = Some(format!("cannot connect: {}", super::error_chain(&e)));
            return;
        }
        Err(_) => {
            snap.unavailable = Some(format!(
                "the socket did not complete a connection within {} s",
                CONNECT_DEADLINE.as_secs()
            ));
            return;
        }
    };
    let mut images = ImageServiceClient::new(channel.clone());
    let mut runtime = RuntimeServiceClient::new(channel);

    // First what the kubelet asks every few seconds (`crictl info`): are the runtime and its
    // network ready. Not verbose: the verbose `info` map holds the runtime's whole config.
    match call("Status", runtime.status(StatusRequest { verbose: false })).await {
        Ok(r) => {
            snap.status = Some(
                r.status
                    .map(|s| s.conditions)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|c| CriCondition {
                        type_: c.r#type,
                        status: c.status,
                        reason: c.reason,
                        message: c.message,
                    })
                    .collect(),
            );
        }
        Err(e) => {
            // A runtime that does not answer its cheapest call will not answer the others.
            if e.contains("no answer within") {
                snap.unavailable = Some(e);
                return;
            }
            snap.errors.push(e);
        }
    }
    match call(
        "ImageFsInfo",
        images.image_fs_info(ImageFsInfoRequest::default()),
    )
    .await
    {
        Ok(r) => {
            snap.image_filesystems = Some(r.image_filesystems.iter().map(fs_usage).collect());
        }
        Err(e) => {
            // A runtime that does not answer its cheapest call will not answer the others:
            // say so once instead of waiting out every deadline.
            if e.contains("no answer within") {
                snap.unavailable = Some(e);
                return;
            }
            snap.errors.push(e);
        }
    }
    match call(
        "ListImages",
        images.list_images(ListImagesRequest { filter: None }),
    )
    .await
    {
        Ok(r) => {
            snap.images = Some(
                r.images
                    .into_iter()
                    .map(|i| CriImage {
                        id: i.id,
                        repo_tags: i.repo_tags,
                        repo_digests: i.repo_digests,
                        size_bytes: i.size,
                        pinned: i.pinned,
                    })
                    .collect(),
            );
        }
        Err(e) => snap.errors.push(e),
    }
    // No filter: every state, as `crictl ps -a` and `crictl rmi --prune` ask.
    match call(
        "ListContainers",
        runtime.list_containers(ListContainersRequest { filter: None }),
    )
    .await
    {
        Ok(r) => {
            snap.containers = Some(
                r.containers
                    .into_iter()
                    .map(|c| CriContainer {
                        name: c.metadata.map(|m| m.name).unwrap_or_default(),
                        image: c.image.map(|i| i.image).unwrap_or_default(),
                        state: state_name(c.state).into(),
                        id: c.id,
                        image_ref: c.image_ref,
                        image_id: c.image_id,
                    })
                    .collect(),
            );
        }
        Err(e) => snap.errors.push(e),
    }
}

fn fs_usage(f: &k8s_cri::v1::FilesystemUsage) -> CriFsUsage {
    CriFsUsage {
        mountpoint: f
            .fs_id
            .as_ref()
            .map(|i| i.mountpoint.clone())
            .unwrap_or_default(),
        used_bytes: f.used_bytes.map(|v| v.value),
        inodes_used: f.inodes_used.map(|v| v.value),
    }
}

/// CRI `ContainerState` (runtime.v1 `api.proto`): 0 created, 1 running, 2 exited, 3 unknown.
fn state_name(s: i32) -> &'static str {
    match s {
        0 => "created",
        1 => "running",
        2 => "exited",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_name_unix_sockets_only() {
        assert_eq!(
            socket_path("unix:///run/containerd/containerd.sock"),
            Some("/run/containerd/containerd.sock")
        );
        assert_eq!(
            socket_path("/var/run/crio/crio.sock"),
            Some("/var/run/crio/crio.sock")
        );
        assert_eq!(socket_path("tcp://10.0.0.1:1234"), None);
        assert_eq!(socket_path("npipe:////./pipe/containerd"), None);
    }

    #[test]
    fn var_run_is_also_looked_for_under_run() {
        let v = under_root(Path::new("/host"), "/var/run/crio/crio.sock");
        assert_eq!(
            v,
            vec![
                PathBuf::from("/host/var/run/crio/crio.sock"),
                PathBuf::from("/host/run/crio/crio.sock")
            ]
        );
    }

    #[test]
    fn without_a_socket_the_reason_names_the_endpoints() {
        let d = tempfile::tempdir().expect("tempdir");
        let eps: Vec<String> = DEFAULT_ENDPOINTS.iter().map(|s| s.to_string()).collect();
        let s = query(d.path(), &eps);
        assert_eq!(
            s.unavailable.as_deref(),
            Some(
                "no CRI socket at unix:///run/containerd/containerd.sock, unix:///var/run/crio/crio.sock"
            )
        );
        assert!(s.images.is_none());
    }
}
