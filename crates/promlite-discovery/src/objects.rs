//! The Kubernetes API objects discovery reads, as typed serde structs.
//!
//! Only the fields the meta labels need are declared; every other field of the API's
//! JSON is ignored, and every declared field has a default, so an object missing a
//! field (a Pending pod has no IP, a headless endpoint no hostname) still decodes.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `metadata` of any object.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ObjectMeta {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    pub resource_version: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub owner_references: Vec<OwnerReference>,
}

impl ObjectMeta {
    /// `namespace/name`: the key objects are stored and referenced by.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// One entry of `metadata.ownerReferences`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct OwnerReference {
    pub kind: String,
    pub name: String,
    pub controller: Option<bool>,
}

/// A core/v1 Pod.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct Pod {
    pub metadata: ObjectMeta,
    pub spec: PodSpec,
    pub status: PodStatus,
}

/// `Pod.spec`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct PodSpec {
    pub node_name: String,
    pub containers: Vec<Container>,
    pub init_containers: Vec<Container>,
}

/// One container of a pod spec.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct Container {
    pub name: String,
    pub image: String,
    pub ports: Vec<ContainerPort>,
}

/// One declared container port.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ContainerPort {
    pub name: String,
    pub container_port: i32,
    pub protocol: String,
}

/// `Pod.status`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct PodStatus {
    pub phase: String,
    #[serde(rename = "podIP")]
    pub pod_ip: String,
    #[serde(rename = "hostIP")]
    pub host_ip: String,
    pub conditions: Vec<PodCondition>,
    pub container_statuses: Vec<ContainerStatus>,
    pub init_container_statuses: Vec<ContainerStatus>,
}

/// One pod condition (`Ready`, `PodScheduled`, ...).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct PodCondition {
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
}

/// One container's status: only its ID is read.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ContainerStatus {
    pub name: String,
    #[serde(rename = "containerID")]
    pub container_id: String,
}

/// A core/v1 Service: only its metadata is read.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct Service {
    pub metadata: ObjectMeta,
}

/// A core/v1 Endpoints object.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct Endpoints {
    pub metadata: ObjectMeta,
    pub subsets: Vec<EndpointSubset>,
}

/// One subset: addresses × ports.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct EndpointSubset {
    pub addresses: Vec<EndpointAddress>,
    pub not_ready_addresses: Vec<EndpointAddress>,
    pub ports: Vec<EndpointPort>,
}

/// One endpoint address.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct EndpointAddress {
    pub ip: String,
    pub hostname: String,
    pub node_name: Option<String>,
    pub target_ref: Option<ObjectReference>,
}

/// What an endpoint address points at (usually a Pod).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct ObjectReference {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

/// One endpoint port.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct EndpointPort {
    pub name: String,
    pub port: i32,
    pub protocol: String,
}

/// A list response: `{"metadata": {"resourceVersion", "continue"}, "items": [...]}`.
#[derive(Debug, Deserialize)]
#[serde(bound = "T: Deserialize<'de>")]
pub(crate) struct List<T> {
    #[serde(default)]
    pub metadata: ListMeta,
    #[serde(default = "Vec::new")]
    pub items: Vec<T>,
}

/// `metadata` of a list.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ListMeta {
    pub resource_version: String,
    #[serde(rename = "continue")]
    pub continue_token: String,
}

/// A `Status` object: the body of an API error and of a watch ERROR event.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Status {
    pub code: u16,
    pub reason: String,
    pub message: String,
}

/// The metadata-only view of a watch event's object (enough for a BOOKMARK).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct MetaOnly {
    pub metadata: ObjectMeta,
}

/// One line of a watch stream: the event type and its still-encoded object.
#[derive(Debug, Deserialize)]
pub(crate) struct RawWatchEvent {
    #[serde(rename = "type")]
    pub kind: String,
    pub object: Box<serde_json::value::RawValue>,
}
