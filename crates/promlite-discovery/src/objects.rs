//! The Kubernetes API objects discovery reads, as typed serde structs.
//!
//! Only the fields the meta labels need are declared; every other field of the API's
//! JSON is ignored, and every declared field has a default, so an object missing a
//! field (a Pending pod has no IP, a headless endpoint no hostname) still decodes.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

/// Decodes `null` as the default value: Go encodes a nil slice or map without
/// `omitempty` as `null` (an EndpointSlice's `ports`, for one).
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

/// `metadata` of any object.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ObjectMeta {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    pub resource_version: String,
    #[serde(deserialize_with = "nullable")]
    pub labels: BTreeMap<String, String>,
    #[serde(deserialize_with = "nullable")]
    pub annotations: BTreeMap<String, String>,
    #[serde(deserialize_with = "nullable")]
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
    #[serde(deserialize_with = "nullable")]
    pub containers: Vec<Container>,
    #[serde(deserialize_with = "nullable")]
    pub init_containers: Vec<Container>,
}

/// One container of a pod spec.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct Container {
    pub name: String,
    pub image: String,
    #[serde(deserialize_with = "nullable")]
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
    #[serde(deserialize_with = "nullable")]
    pub conditions: Vec<PodCondition>,
    #[serde(deserialize_with = "nullable")]
    pub container_statuses: Vec<ContainerStatus>,
    #[serde(deserialize_with = "nullable")]
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

/// A core/v1 Service: its metadata, and its IP families for role `endpointslice`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct Service {
    pub metadata: ObjectMeta,
    pub spec: ServiceSpec,
}

/// `Service.spec`: only what decides a dual-stack service's primary family.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ServiceSpec {
    pub ip_family_policy: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub ip_families: Vec<String>,
}

/// A discovery.k8s.io/v1 EndpointSlice.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct EndpointSlice {
    pub metadata: ObjectMeta,
    pub address_type: String,
    #[serde(deserialize_with = "nullable")]
    pub endpoints: Vec<SliceEndpoint>,
    #[serde(deserialize_with = "nullable")]
    pub ports: Vec<SlicePort>,
}

/// One endpoint of a slice.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct SliceEndpoint {
    #[serde(deserialize_with = "nullable")]
    pub addresses: Vec<String>,
    pub conditions: SliceConditions,
    pub hostname: Option<String>,
    pub target_ref: Option<ObjectReference>,
    pub node_name: Option<String>,
    pub zone: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub deprecated_topology: BTreeMap<String, String>,
}

/// An endpoint's conditions; each may be unknown (absent).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct SliceConditions {
    pub ready: Option<bool>,
    pub serving: Option<bool>,
    pub terminating: Option<bool>,
}

/// One port of a slice; every field may be absent.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct SlicePort {
    pub name: Option<String>,
    pub protocol: Option<String>,
    pub port: Option<i32>,
    pub app_protocol: Option<String>,
}

/// A core/v1 Endpoints object.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct Endpoints {
    pub metadata: ObjectMeta,
    #[serde(deserialize_with = "nullable")]
    pub subsets: Vec<EndpointSubset>,
}

/// One subset: addresses × ports.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct EndpointSubset {
    #[serde(deserialize_with = "nullable")]
    pub addresses: Vec<EndpointAddress>,
    #[serde(deserialize_with = "nullable")]
    pub not_ready_addresses: Vec<EndpointAddress>,
    #[serde(deserialize_with = "nullable")]
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
    #[serde(default = "Vec::new", deserialize_with = "nullable")]
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
