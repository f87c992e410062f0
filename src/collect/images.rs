//! The runtime's image inventory: from its CRI socket when it answers (`ListImages`,
//! `ListContainers`; [`crate::source::cri`]), else, for CRI-O, from containers/storage's own
//! JSON files (`overlay-images/images.json`, `overlay-layers/layers.json`,
//! `overlay-containers/containers.json`). containerd keeps its image metadata in a bolt
//! database, which is not read. What `crictl rmi --prune` would remove is worked out here too.

use super::Errors;
use crate::model::CollectError;
use crate::model::disk::{CriSnapshot, Image, ImageInventory};
use crate::source::{ErrorKind, Host, join};
use std::collections::HashMap;

/// Errors found here are reported under the disk collector, as before this file was split
/// out of it (the `collector` of a JSON error is part of the output).
const C: &str = "disk";

/// A socket that is there but did not answer, and calls that failed, are what could not be
/// collected; no socket at all is simply a node whose runtime is not asked.
pub(super) fn cri_errors(c: &CriSnapshot, errs: &mut Errors) {
    let path = crate::source::cri::socket_path(&c.endpoint).map(String::from);
    let reasons = c
        .unavailable
        .iter()
        .filter(|u| !u.starts_with(crate::model::disk::CRI_NO_SOCKET))
        .chain(&c.errors);
    for r in reasons {
        errs.push(CollectError {
            collector: C.into(),
            kind: if r.contains(" within ") {
                ErrorKind::Timeout
            } else {
                ErrorKind::Io
            },
            path: path.clone(),
            line: None,
            message: format!("CRI: {r}"),
        });
    }
}

/// The image inventory from the runtime's CRI answers; `None` unless both the images and the
/// containers were listed.
///
/// An image is in use when a container (any state: `ListContainers` without a filter) names
/// it, and prunable when it is in use by none and not pinned: `crictl rmi --prune`
/// (cri-tools `cmd/crictl/image.go`, `removeImageCommand`) lists all images, skips pinned
/// ones, then keeps every image that a container's `image.image` resolves to through
/// `ImageStatus`. That resolution is done here without another call: the spec matches an
/// image's id, one of its tags or digests, after the normalization the runtime applies
/// (`nginx:1.27` is `docker.io/library/nginx:1.27`). A container's `image_ref` / `image_id`
/// (the image it was created from, by id or digest) also count: they differ from the spec only
/// when a tag moved since, and removing the older image would free nothing while the container
/// holds its layers.
pub fn cri_inventory(c: &CriSnapshot) -> Option<ImageInventory> {
    let (images, containers) = (c.images.as_ref()?, c.containers.as_ref()?);
    // Each container's references, as given and normalized, made once for all images.
    let refs: Vec<Vec<(&str, String)>> = containers
        .iter()
        .map(|ct| {
            [&ct.image, &ct.image_ref, &ct.image_id]
                .into_iter()
                .filter(|r| !r.is_empty())
                .map(|r| (r.as_str(), normalize_ref(r)))
                .collect()
        })
        .collect();
    let mut out: Vec<Image> = images
        .iter()
        .map(|i| {
            let tags: Vec<String> = i.repo_tags.iter().map(|t| normalize_ref(t)).collect();
            let names_it = |(r, norm): &(&str, String)| {
                *r == i.id
                    || i.repo_digests.iter().any(|d| d == r)
                    || i.id.strip_prefix("sha256:") == Some(*r)
                    || tags.contains(norm)
                    || i.repo_digests.contains(norm)
            };
            let used = refs.iter().filter(|rs| rs.iter().any(names_it)).count();
            Image {
                id: i.id.clone(),
                names: if i.repo_tags.is_empty() {
                    i.repo_digests.clone()
                } else {
                    i.repo_tags.clone()
                },
                bytes: Some(i.size_bytes),
                in_use: used > 0,
                used_by_containers: u32::try_from(used).unwrap_or(u32::MAX),
                pinned: i.pinned,
            }
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Some(ImageInventory {
        source: format!("CRI {}", c.endpoint),
        images: out,
        filesystems: c.image_filesystems.clone().unwrap_or_default(),
    })
}

/// An image reference in the runtime's normal form (distribution's `ParseDockerRef`, which
/// containerd and CRI-O apply before looking an image up): a domain (`docker.io` when the first
/// component is not a host), `library/` for docker.io's one-component names, and `:latest`
/// when neither a tag nor a digest is given.
fn normalize_ref(r: &str) -> String {
    let (name, digest) = match r.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (r, None),
    };
    let (name, tag) = match name.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, Some(t)),
        _ => (name, None),
    };
    let name = match name.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            name.to_string()
        }
        Some(_) => format!("docker.io/{name}"),
        None => format!("docker.io/library/{name}"),
    };
    match (digest, tag) {
        (Some(d), _) => format!("{name}@{d}"),
        (None, Some(t)) => format!("{name}:{t}"),
        (None, None) => format!("{name}:latest"),
    }
}

/// CRI-O's containers by their layer id (`overlay-containers/containers.json`: each container's
/// `layer` is the read-write layer mounted at `overlay/<layer>/merged`).
pub(super) fn crio_container_layers(host: &dyn Host, root: &str) -> HashMap<String, String> {
    #[derive(serde::Deserialize)]
    struct Ctr {
        id: String,
        #[serde(default)]
        layer: Option<String>,
    }
    let Ok(raw) = host.read(&join(root, "overlay-containers/containers.json")) else {
        return HashMap::new();
    };
    serde_json::from_slice::<Vec<Ctr>>(&raw)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|c| Some((c.layer?, c.id)))
        .collect()
}

/// CRI-O's images with their sizes and whether a container uses them: what
/// `crictl rmi --prune` would remove is every image no container was created from.
pub(super) fn crio_images(
    host: &dyn Host,
    root: &str,
    errs: &mut Errors,
) -> Option<ImageInventory> {
    #[derive(serde::Deserialize)]
    struct Img {
        id: String,
        #[serde(default)]
        names: Vec<String>,
        #[serde(default)]
        layer: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Layer {
        id: String,
        #[serde(default)]
        parent: Option<String>,
        #[serde(default, rename = "diff-size")]
        diff_size: Option<u64>,
    }
    #[derive(serde::Deserialize)]
    struct Ctr {
        #[serde(default)]
        image: Option<String>,
    }
    fn load<T: serde::de::DeserializeOwned>(
        host: &dyn Host,
        path: &str,
        errs: &mut Errors,
    ) -> Option<Vec<T>> {
        match host.read(path) {
            Ok(raw) => match serde_json::from_slice(&raw) {
                Ok(v) => Some(v),
                Err(e) => {
                    errs.unparsed(host, C, path, None, e.to_string());
                    None
                }
            },
            Err(e) => {
                errs.unless_missing(C, &e);
                None
            }
        }
    }
    let images_path = join(root, "overlay-images/images.json");
    let images: Vec<Img> = load(host, &images_path, errs)?;
    let layers: Vec<Layer> =
        load(host, &join(root, "overlay-layers/layers.json"), errs).unwrap_or_default();
    let ctrs: Vec<Ctr> = load(
        host,
        &join(root, "overlay-containers/containers.json"),
        errs,
    )
    .unwrap_or_default();
    let by_id: HashMap<&str, &Layer> = layers.iter().map(|l| (l.id.as_str(), l)).collect();
    let mut used: HashMap<&str, u32> = HashMap::new();
    for c in ctrs.iter().filter_map(|c| c.image.as_deref()) {
        *used.entry(c).or_default() += 1;
    }
    let size = |top: &str| -> Option<u64> {
        let mut total = 0u64;
        let mut cur = Some(top);
        let mut hops = 0;
        while let Some(id) = cur {
            let l = by_id.get(id)?;
            total += l.diff_size?;
            cur = l.parent.as_deref();
            hops += 1;
            if hops > 512 {
                return None;
            }
        }
        Some(total)
    };
    let mut out: Vec<Image> = images
        .iter()
        .map(|i| Image {
            id: i.id.clone(),
            names: i.names.clone(),
            bytes: i.layer.as_deref().and_then(size),
            in_use: used.contains_key(i.id.as_str()),
            used_by_containers: used.get(i.id.as_str()).copied().unwrap_or(0),
            // containers/storage keeps no pin; CRI-O pins by its `pinned_images` setting.
            pinned: false,
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Some(ImageInventory {
        source: images_path,
        images: out,
        filesystems: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn references_normalize_as_the_runtime_resolves_them() {
        assert_eq!(normalize_ref("nginx"), "docker.io/library/nginx:latest");
        assert_eq!(normalize_ref("nginx:1.27"), "docker.io/library/nginx:1.27");
        assert_eq!(
            normalize_ref("istio/proxyv2:1.23"),
            "docker.io/istio/proxyv2:1.23"
        );
        assert_eq!(
            normalize_ref("registry.k8s.io/pause:3.10"),
            "registry.k8s.io/pause:3.10"
        );
        assert_eq!(
            normalize_ref("localhost:5000/app"),
            "localhost:5000/app:latest"
        );
        assert_eq!(
            normalize_ref("nginx:1.27@sha256:ab"),
            "docker.io/library/nginx@sha256:ab"
        );
    }

    #[test]
    fn crictl_prune_keeps_used_and_pinned_images() {
        use crate::model::disk::{CriContainer, CriImage};
        let img = |id: &str, tag: &str, pinned: bool| CriImage {
            id: id.into(),
            repo_tags: vec![tag.into()],
            repo_digests: vec![format!(
                "{}@sha256:d{id}",
                tag.split(':').next().unwrap_or("")
            )],
            size_bytes: 100,
            pinned,
        };
        let ctr = |image: &str, image_ref: &str, state: &str| CriContainer {
            id: format!("c-{image}"),
            name: String::new(),
            image: image.into(),
            image_ref: image_ref.into(),
            image_id: String::new(),
            state: state.into(),
        };
        let c = CriSnapshot {
            endpoint: "unix:///run/containerd/containerd.sock".into(),
            images: Some(vec![
                img("sha256:a", "docker.io/library/nginx:1.27", false),
                img("sha256:b", "docker.io/library/nginx:1.25", false),
                img("sha256:c", "registry.k8s.io/pause:3.10", true),
                img("sha256:d", "docker.io/library/busybox:latest", false),
                img("sha256:e", "registry.example.com/old:1", false),
            ]),
            containers: Some(vec![
                ctr("nginx:1.27", "", "running"),
                ctr("busybox", "", "exited"),
                ctr("sha256:e", "", "created"),
            ]),
            ..CriSnapshot::default()
        };
        let inv = cri_inventory(&c).expect("inventory");
        let prunable: Vec<&str> = inv
            .images
            .iter()
            .filter(|i| i.prunable())
            .map(|i| i.id.as_str())
            .collect();
        assert_eq!(prunable, ["sha256:b"]);
        assert_eq!(inv.source, "CRI unix:///run/containerd/containerd.sock");
        let no_ctrs = CriSnapshot {
            containers: None,
            ..c
        };
        assert!(cri_inventory(&no_ctrs).is_none());
    }
}
