//! A stand-in container runtime for the tests: the CRI `RuntimeService` and `ImageService`
//! (k8s-cri's generated server traits over tonic) answering canned images, containers and
//! image filesystems on a real unix socket. Every call is logged, so a test can assert that
//! nodescope asked only read-only ones; every call it does not serve is refused as
//! unimplemented (and logged all the same).

use k8s_cri::v1;
use k8s_cri::v1::image_service_server::{ImageService, ImageServiceServer};
use k8s_cri::v1::runtime_service_server::{RuntimeService, RuntimeServiceServer};
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use tonic::{Request, Response, Status};

/// What the stand-in runtime answers.
#[derive(Clone, Default)]
pub struct Canned {
    pub images: Vec<v1::Image>,
    pub containers: Vec<v1::Container>,
    pub image_filesystems: Vec<v1::FilesystemUsage>,
    /// What `Status` answers; `None` refuses the call as unimplemented.
    pub status: Option<Vec<v1::RuntimeCondition>>,
}

/// A runtime condition as containerd reports it (`RuntimeReady`, `NetworkReady`).
pub fn condition(kind: &str, ok: bool, reason: &str, message: &str) -> v1::RuntimeCondition {
    v1::RuntimeCondition {
        r#type: kind.into(),
        status: ok,
        reason: reason.into(),
        message: message.into(),
    }
}

#[derive(Clone)]
struct Runtime {
    canned: Arc<Canned>,
    calls: Arc<Mutex<Vec<String>>>,
}

impl Runtime {
    fn log(&self, call: &str) {
        self.calls.lock().unwrap().push(call.to_string());
    }
    fn refuse(&self, call: &str) -> Status {
        self.log(call);
        Status::unimplemented(format!("the test runtime does not serve {call}"))
    }
}

/// A CRI image as containerd lists it.
pub fn image(id: &str, tags: &[&str], size: u64, pinned: bool) -> v1::Image {
    v1::Image {
        id: id.into(),
        repo_tags: tags.iter().map(|t| t.to_string()).collect(),
        repo_digests: tags
            .iter()
            .map(|t| {
                format!(
                    "{}@sha256:{:0>64}",
                    t.rsplit_once(':').map_or(*t, |(n, _)| n),
                    size
                )
            })
            .collect(),
        size,
        pinned,
        ..Default::default()
    }
}

/// A CRI container created from `image` (as the kubelet names it) in `state`
/// (`v1::ContainerState`).
pub fn container(
    id: &str,
    name: &str,
    image: &str,
    image_ref: &str,
    state: v1::ContainerState,
) -> v1::Container {
    v1::Container {
        id: id.into(),
        pod_sandbox_id: format!("sandbox-{id}"),
        metadata: Some(v1::ContainerMetadata {
            name: name.into(),
            attempt: 0,
        }),
        image: Some(v1::ImageSpec {
            image: image.into(),
            ..Default::default()
        }),
        image_ref: image_ref.into(),
        state: state as i32,
        ..Default::default()
    }
}

/// One image filesystem as `ImageFsInfo` reports it.
pub fn fs(mountpoint: &str, used_bytes: u64, inodes_used: u64) -> v1::FilesystemUsage {
    v1::FilesystemUsage {
        timestamp: 1,
        fs_id: Some(v1::FilesystemIdentifier {
            mountpoint: mountpoint.into(),
        }),
        used_bytes: Some(v1::UInt64Value { value: used_bytes }),
        inodes_used: Some(v1::UInt64Value { value: inodes_used }),
    }
}

/// A running stand-in runtime; stopped and its thread joined on drop.
pub struct CriServer {
    /// The calls received, in order (`list_images`, ...).
    pub calls: Arc<Mutex<Vec<String>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CriServer {
    /// Serves `canned` on a new unix socket at `socket` (its directory must exist).
    pub fn start(socket: &Path, canned: Canned) -> CriServer {
        let listener = std::os::unix::net::UnixListener::bind(socket).unwrap();
        listener.set_nonblocking(true).unwrap();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let rt = Runtime {
            canned: Arc::new(canned),
            calls: calls.clone(),
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let tokio_rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            tokio_rt.block_on(async move {
                let l = tokio::net::UnixListener::from_std(listener).unwrap();
                tonic::transport::Server::builder()
                    .add_service(RuntimeServiceServer::new(rt.clone()))
                    .add_service(ImageServiceServer::new(rt))
                    .serve_with_incoming_shutdown(
                        tokio_stream::wrappers::UnixListenerStream::new(l),
                        async {
                            let _ = rx.await;
                        },
                    )
                    .await
                    .unwrap();
            });
        });
        CriServer {
            calls,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

impl Drop for CriServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[tonic::async_trait]
impl ImageService for Runtime {
    async fn list_images(
        &self,
        _: Request<v1::ListImagesRequest>,
    ) -> Result<Response<v1::ListImagesResponse>, Status> {
        self.log("list_images");
        Ok(Response::new(v1::ListImagesResponse {
            images: self.canned.images.clone(),
        }))
    }
    async fn image_fs_info(
        &self,
        _: Request<v1::ImageFsInfoRequest>,
    ) -> Result<Response<v1::ImageFsInfoResponse>, Status> {
        self.log("image_fs_info");
        Ok(Response::new(v1::ImageFsInfoResponse {
            image_filesystems: self.canned.image_filesystems.clone(),
            container_filesystems: Vec::new(),
        }))
    }
    async fn image_status(
        &self,
        _: Request<v1::ImageStatusRequest>,
    ) -> Result<Response<v1::ImageStatusResponse>, Status> {
        Err(self.refuse("image_status"))
    }
    async fn pull_image(
        &self,
        _: Request<v1::PullImageRequest>,
    ) -> Result<Response<v1::PullImageResponse>, Status> {
        Err(self.refuse("pull_image"))
    }
    async fn remove_image(
        &self,
        _: Request<v1::RemoveImageRequest>,
    ) -> Result<Response<v1::RemoveImageResponse>, Status> {
        Err(self.refuse("remove_image"))
    }
}

#[tonic::async_trait]
impl RuntimeService for Runtime {
    type GetContainerEventsStream = Pin<
        Box<dyn tokio_stream::Stream<Item = Result<v1::ContainerEventResponse, Status>> + Send>,
    >;
    async fn list_containers(
        &self,
        r: Request<v1::ListContainersRequest>,
    ) -> Result<Response<v1::ListContainersResponse>, Status> {
        self.log("list_containers");
        // The runtime filters by state when asked; nodescope must ask for every state.
        let state = r.into_inner().filter.and_then(|f| f.state).map(|s| s.state);
        Ok(Response::new(v1::ListContainersResponse {
            containers: self
                .canned
                .containers
                .iter()
                .filter(|c| state.is_none_or(|s| c.state == s))
                .cloned()
                .collect(),
        }))
    }
    async fn version(
        &self,
        _: Request<v1::VersionRequest>,
    ) -> Result<Response<v1::VersionResponse>, Status> {
        Err(self.refuse("version"))
    }
    async fn run_pod_sandbox(
        &self,
        _: Request<v1::RunPodSandboxRequest>,
    ) -> Result<Response<v1::RunPodSandboxResponse>, Status> {
        Err(self.refuse("run_pod_sandbox"))
    }
    async fn stop_pod_sandbox(
        &self,
        _: Request<v1::StopPodSandboxRequest>,
    ) -> Result<Response<v1::StopPodSandboxResponse>, Status> {
        Err(self.refuse("stop_pod_sandbox"))
    }
    async fn remove_pod_sandbox(
        &self,
        _: Request<v1::RemovePodSandboxRequest>,
    ) -> Result<Response<v1::RemovePodSandboxResponse>, Status> {
        Err(self.refuse("remove_pod_sandbox"))
    }
    async fn pod_sandbox_status(
        &self,
        _: Request<v1::PodSandboxStatusRequest>,
    ) -> Result<Response<v1::PodSandboxStatusResponse>, Status> {
        Err(self.refuse("pod_sandbox_status"))
    }
    async fn list_pod_sandbox(
        &self,
        _: Request<v1::ListPodSandboxRequest>,
    ) -> Result<Response<v1::ListPodSandboxResponse>, Status> {
        Err(self.refuse("list_pod_sandbox"))
    }
    async fn create_container(
        &self,
        _: Request<v1::CreateContainerRequest>,
    ) -> Result<Response<v1::CreateContainerResponse>, Status> {
        Err(self.refuse("create_container"))
    }
    async fn start_container(
        &self,
        _: Request<v1::StartContainerRequest>,
    ) -> Result<Response<v1::StartContainerResponse>, Status> {
        Err(self.refuse("start_container"))
    }
    async fn stop_container(
        &self,
        _: Request<v1::StopContainerRequest>,
    ) -> Result<Response<v1::StopContainerResponse>, Status> {
        Err(self.refuse("stop_container"))
    }
    async fn remove_container(
        &self,
        _: Request<v1::RemoveContainerRequest>,
    ) -> Result<Response<v1::RemoveContainerResponse>, Status> {
        Err(self.refuse("remove_container"))
    }
    async fn container_status(
        &self,
        _: Request<v1::ContainerStatusRequest>,
    ) -> Result<Response<v1::ContainerStatusResponse>, Status> {
        Err(self.refuse("container_status"))
    }
    async fn update_container_resources(
        &self,
        _: Request<v1::UpdateContainerResourcesRequest>,
    ) -> Result<Response<v1::UpdateContainerResourcesResponse>, Status> {
        Err(self.refuse("update_container_resources"))
    }
    async fn reopen_container_log(
        &self,
        _: Request<v1::ReopenContainerLogRequest>,
    ) -> Result<Response<v1::ReopenContainerLogResponse>, Status> {
        Err(self.refuse("reopen_container_log"))
    }
    async fn exec_sync(
        &self,
        _: Request<v1::ExecSyncRequest>,
    ) -> Result<Response<v1::ExecSyncResponse>, Status> {
        Err(self.refuse("exec_sync"))
    }
    async fn exec(
        &self,
        _: Request<v1::ExecRequest>,
    ) -> Result<Response<v1::ExecResponse>, Status> {
        Err(self.refuse("exec"))
    }
    async fn attach(
        &self,
        _: Request<v1::AttachRequest>,
    ) -> Result<Response<v1::AttachResponse>, Status> {
        Err(self.refuse("attach"))
    }
    async fn port_forward(
        &self,
        _: Request<v1::PortForwardRequest>,
    ) -> Result<Response<v1::PortForwardResponse>, Status> {
        Err(self.refuse("port_forward"))
    }
    async fn container_stats(
        &self,
        _: Request<v1::ContainerStatsRequest>,
    ) -> Result<Response<v1::ContainerStatsResponse>, Status> {
        Err(self.refuse("container_stats"))
    }
    async fn list_container_stats(
        &self,
        _: Request<v1::ListContainerStatsRequest>,
    ) -> Result<Response<v1::ListContainerStatsResponse>, Status> {
        Err(self.refuse("list_container_stats"))
    }
    async fn pod_sandbox_stats(
        &self,
        _: Request<v1::PodSandboxStatsRequest>,
    ) -> Result<Response<v1::PodSandboxStatsResponse>, Status> {
        Err(self.refuse("pod_sandbox_stats"))
    }
    async fn list_pod_sandbox_stats(
        &self,
        _: Request<v1::ListPodSandboxStatsRequest>,
    ) -> Result<Response<v1::ListPodSandboxStatsResponse>, Status> {
        Err(self.refuse("list_pod_sandbox_stats"))
    }
    async fn update_runtime_config(
        &self,
        _: Request<v1::UpdateRuntimeConfigRequest>,
    ) -> Result<Response<v1::UpdateRuntimeConfigResponse>, Status> {
        Err(self.refuse("update_runtime_config"))
    }
    async fn status(
        &self,
        _: Request<v1::StatusRequest>,
    ) -> Result<Response<v1::StatusResponse>, Status> {
        let Some(conditions) = self.canned.status.clone() else {
            return Err(self.refuse("status"));
        };
        self.log("status");
        Ok(Response::new(v1::StatusResponse {
            status: Some(v1::RuntimeStatus { conditions }),
            ..Default::default()
        }))
    }
    async fn checkpoint_container(
        &self,
        _: Request<v1::CheckpointContainerRequest>,
    ) -> Result<Response<v1::CheckpointContainerResponse>, Status> {
        Err(self.refuse("checkpoint_container"))
    }
    async fn get_container_events(
        &self,
        _: Request<v1::GetEventsRequest>,
    ) -> Result<Response<Self::GetContainerEventsStream>, Status> {
        Err(self.refuse("get_container_events"))
    }
    async fn list_metric_descriptors(
        &self,
        _: Request<v1::ListMetricDescriptorsRequest>,
    ) -> Result<Response<v1::ListMetricDescriptorsResponse>, Status> {
        Err(self.refuse("list_metric_descriptors"))
    }
    async fn list_pod_sandbox_metrics(
        &self,
        _: Request<v1::ListPodSandboxMetricsRequest>,
    ) -> Result<Response<v1::ListPodSandboxMetricsResponse>, Status> {
        Err(self.refuse("list_pod_sandbox_metrics"))
    }
    async fn runtime_config(
        &self,
        _: Request<v1::RuntimeConfigRequest>,
    ) -> Result<Response<v1::RuntimeConfigResponse>, Status> {
        Err(self.refuse("runtime_config"))
    }
}
