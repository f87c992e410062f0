//! The kubelet's checkpoint checksum, ported, so that nodescope can say when the kubelet will
//! refuse a checkpoint it reads.
//!
//! The kubelet checksums a checkpoint's Go value, not its bytes
//! (`pkg/kubelet/checkpointmanager/checksum/checksum.go`): FNV-1a 32 (`hash/fnv.New32a`) over
//! the value printed by go-spew with `%#v` and the configuration `SortKeys`, `SpewKeys`,
//! `DisableMethods`, `DisablePointerAddresses`, `DisableCapacities`
//! (`k8s.io/utils/dump.ForHash`; older kubelets built the same `spew.ConfigState` in
//! `pkg/util/hash.DeepHashObject`). So the type names of the kubelet's own structs are part of
//! the input, and a checkpoint edited by hand, or written by anything but the kubelet, fails.
//!
//! go-spew's `%#v` (`spew/format.go`, `formatState.format`): a value prints `(<type>)` before
//! itself unless it is a slice element, a map key or a map value; a pointer prints `(*<type>)`
//! and then its target without a type; strings print raw, without quotes; integers in decimal;
//! slices `[a b]`, maps `map[k:v k:v]` with keys sorted, structs `{Name:value Name:value}`;
//! a nil slice or map prints `<nil>`. `[]byte` is not special: `[]uint8` and decimal bytes.

use base64::Engine;
use serde_json::Value;

/// A Go value with the type name spew prints for it.
#[derive(Debug, Clone, PartialEq)]
pub struct GoValue {
    /// `reflect.Type.String()`: `string`, `[]uint8`, `checkpoint.DevicesPerNUMA`, ...
    ty: String,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Str(String),
    Int(i64),
    Uint(u64),
    /// `None` is a nil slice.
    Slice(Option<Vec<GoValue>>),
    /// `None` is a nil map; entries in any order (printing sorts them).
    Map(Option<Vec<(GoValue, GoValue)>>),
    Struct(Vec<(String, GoValue)>),
    Ptr(Box<GoValue>),
}

impl GoValue {
    pub fn string(s: &str) -> Self {
        Self::new("string", Kind::Str(s.into()))
    }
    pub fn int(ty: &str, v: i64) -> Self {
        Self::new(ty, Kind::Int(v))
    }
    pub fn uint(ty: &str, v: u64) -> Self {
        Self::new(ty, Kind::Uint(v))
    }
    pub fn slice(ty: &str, items: Option<Vec<GoValue>>) -> Self {
        Self::new(ty, Kind::Slice(items))
    }
    pub fn map(ty: &str, entries: Option<Vec<(GoValue, GoValue)>>) -> Self {
        Self::new(ty, Kind::Map(entries))
    }
    pub fn structure(ty: &str, fields: Vec<(&str, GoValue)>) -> Self {
        let fields = fields
            .into_iter()
            .map(|(n, v)| (n.to_string(), v))
            .collect();
        Self::new(ty, Kind::Struct(fields))
    }
    /// A pointer to `target` (whose `ty` is the pointee's type).
    pub fn pointer(target: GoValue) -> Self {
        Self::new(&format!("*{}", target.ty), Kind::Ptr(Box::new(target)))
    }
    fn new(ty: &str, kind: Kind) -> Self {
        GoValue {
            ty: ty.into(),
            kind,
        }
    }

    /// The value as `spew.Sprintf("%#v", v)` prints it with the kubelet's configuration.
    pub fn spew(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, true);
        out
    }

    fn write(&self, out: &mut String, show_type: bool) {
        if let Kind::Ptr(target) = &self.kind {
            if show_type {
                out.push_str(&format!("({})", self.ty));
            }
            target.write(out, false);
            return;
        }
        if show_type {
            out.push_str(&format!("({})", self.ty));
        }
        match &self.kind {
            Kind::Str(s) => out.push_str(s),
            Kind::Int(i) => out.push_str(&i.to_string()),
            Kind::Uint(u) => out.push_str(&u.to_string()),
            Kind::Slice(None) | Kind::Map(None) => out.push_str("<nil>"),
            Kind::Slice(Some(items)) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    v.write(out, false);
                }
                out.push(']');
            }
            Kind::Map(Some(entries)) => {
                let mut sorted: Vec<&(GoValue, GoValue)> = entries.iter().collect();
                sorted.sort_by(|a, b| key_order(&a.0, &b.0));
                out.push_str("map[");
                for (i, (k, v)) in sorted.into_iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    k.write(out, false);
                    out.push(':');
                    v.write(out, false);
                }
                out.push(']');
            }
            Kind::Struct(fields) => {
                out.push('{');
                for (i, (name, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(name);
                    out.push(':');
                    v.write(out, true);
                }
                out.push('}');
            }
            Kind::Ptr(_) => {}
        }
    }
}

/// spew's `valueSortLess` for the key kinds checkpoints use: integers by value, strings by bytes.
fn key_order(a: &GoValue, b: &GoValue) -> std::cmp::Ordering {
    match (&a.kind, &b.kind) {
        (Kind::Int(x), Kind::Int(y)) => x.cmp(y),
        (Kind::Uint(x), Kind::Uint(y)) => x.cmp(y),
        (Kind::Str(x), Kind::Str(y)) => x.as_bytes().cmp(y.as_bytes()),
        _ => std::cmp::Ordering::Equal,
    }
}

/// FNV-1a, 32 bits (Go's `hash/fnv.New32a`: offset basis 2166136261, prime 16777619).
pub fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// The kubelet's `checksum.New(v)`.
pub fn checksum(v: &GoValue) -> u32 {
    fnv1a32(v.spew().as_bytes())
}

/// The checksum the kubelet computes for a device-manager checkpoint's `Data` object
/// (`pkg/kubelet/cm/devicemanager/checkpoint/checkpoint.go`, `checkpointv1.go`), as
/// `encoding/json` would have unmarshalled it. `DeviceIDs` given as a list is the pre-1.20
/// format (`PodDevicesEntryV1`), whose checksum the kubelet computes under the current type
/// names.
pub fn device_checkpoint_checksum(data: &Value) -> Result<u32, String> {
    Ok(checksum(&device_checkpoint_value(data)?))
}

/// Why the kubelet would refuse the checkpoint file `raw`: its `Checksum` is not the one the
/// kubelet computes (`checksum.Verify` fails with `checkpoint is corrupted`, the device manager
/// logs "Continue after failing to read checkpoint file" and starts without these allocations).
/// `None` when it matches, or when the file is not a checkpoint at all (parsing says that).
pub fn device_checkpoint_mismatch(raw: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(raw).ok()?;
    let stored = v.get("Checksum").and_then(Value::as_u64);
    let computed = match device_checkpoint_checksum(v.get("Data")?) {
        Ok(c) => c,
        Err(e) => return Some(format!("the kubelet could not read this checkpoint: {e}")),
    };
    if stored == Some(u64::from(computed)) {
        return None;
    }
    Some(format!(
        "checksum {} does not match {computed}, the one the kubelet computes \
         (pkg/kubelet/checkpointmanager/checksum): the kubelet refuses this checkpoint \
         (\"checkpoint is corrupted\") and starts without its device allocations",
        stored.map_or("missing".to_string(), |s| s.to_string())
    ))
}

fn device_checkpoint_value(data: &Value) -> Result<GoValue, String> {
    let entries = match data.get("PodDeviceEntries") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(a.iter().map(entry).collect::<Result<Vec<_>, _>>()?),
        Some(_) => return Err("PodDeviceEntries is not a list".into()),
    };
    let registered = match data.get("RegisteredDevices") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(
            m.iter()
                .map(|(k, v)| Ok((GoValue::string(k), strings(v)?)))
                .collect::<Result<Vec<_>, String>>()?,
        ),
        Some(_) => return Err("RegisteredDevices is not an object".into()),
    };
    Ok(GoValue::structure(
        "checkpoint.checkpointData",
        vec![
            (
                "PodDeviceEntries",
                GoValue::slice("[]checkpoint.PodDevicesEntry", entries),
            ),
            (
                "RegisteredDevices",
                GoValue::map("map[string][]string", registered),
            ),
        ],
    ))
}

/// One `PodDevicesEntry` (or the pre-1.20 `PodDevicesEntryV1`, printed under the new name).
fn entry(e: &Value) -> Result<GoValue, String> {
    let text = |k: &str| GoValue::string(e.get(k).and_then(Value::as_str).unwrap_or(""));
    let device_ids = match e.get("DeviceIDs") {
        Some(Value::Array(_)) => strings_typed("[]string", e.get("DeviceIDs"))?,
        None | Some(Value::Null) => GoValue::map("checkpoint.DevicesPerNUMA", None),
        Some(Value::Object(m)) => GoValue::map(
            "checkpoint.DevicesPerNUMA",
            Some(
                m.iter()
                    .map(|(numa, ids)| {
                        let n: i64 = numa
                            .parse()
                            .map_err(|_| format!("NUMA node {numa:?} is not an integer"))?;
                        Ok((GoValue::int("int64", n), strings(ids)?))
                    })
                    .collect::<Result<Vec<_>, String>>()?,
            ),
        ),
        Some(_) => return Err("DeviceIDs is neither a list nor an object".into()),
    };
    let alloc = match e.get("AllocResp") {
        None | Some(Value::Null) => None,
        Some(Value::String(b64)) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|err| format!("AllocResp is not base64: {err}"))?
                .into_iter()
                .map(|b| GoValue::uint("uint8", u64::from(b)))
                .collect(),
        ),
        Some(_) => return Err("AllocResp is not a string".into()),
    };
    Ok(GoValue::structure(
        "checkpoint.PodDevicesEntry",
        vec![
            ("PodUID", text("PodUID")),
            ("ContainerName", text("ContainerName")),
            ("ResourceName", text("ResourceName")),
            ("DeviceIDs", device_ids),
            ("AllocResp", GoValue::slice("[]uint8", alloc)),
        ],
    ))
}

/// A JSON list of strings as a Go `[]string` (null: a nil slice).
fn strings(v: &Value) -> Result<GoValue, String> {
    strings_typed("[]string", Some(v))
}

fn strings_typed(ty: &str, v: Option<&Value>) -> Result<GoValue, String> {
    match v {
        None | Some(Value::Null) => Ok(GoValue::slice(ty, None)),
        Some(Value::Array(a)) => Ok(GoValue::slice(
            ty,
            Some(
                a.iter()
                    .map(|x| {
                        x.as_str()
                            .map(GoValue::string)
                            .ok_or_else(|| "a device id is not a string".to_string())
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        )),
        Some(_) => Err("a device list is not a list".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a32_matches_the_reference_vectors() {
        // draft-eastlake-fnv: FNV-1a 32 of "" and "a".
        assert_eq!(fnv1a32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a32(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a32(b"foobar"), 0xbf9c_f968);
    }

    /// `CPUManagerCheckpointV1` as the kubelet checksums it (`state/checkpoint.go`): a
    /// pointer, its type renamed to `CPUManagerCheckpoint`, the checksum field zeroed.
    fn cpu_v1(policy: &str, default: &str, entries: Option<Vec<(&str, &str)>>) -> GoValue {
        GoValue::pointer(GoValue::structure(
            "state.CPUManagerCheckpoint",
            vec![
                ("PolicyName", GoValue::string(policy)),
                ("DefaultCPUSet", GoValue::string(default)),
                (
                    "Entries",
                    GoValue::map(
                        "map[string]string",
                        entries.map(|e| {
                            e.into_iter()
                                .map(|(k, v)| (GoValue::string(k), GoValue::string(v)))
                                .collect()
                        }),
                    ),
                ),
                ("Checksum", GoValue::uint("checksum.Checksum", 0)),
            ],
        ))
    }

    #[test]
    fn the_kubelets_own_test_checkpoints_checksum_as_the_kubelet_says() {
        // pkg/kubelet/cm/cpumanager/state/state_checkpoint_test.go, "Fail to restore
        // checkpoint from v1 (migration)" and "... with v1 checksum": valid V1 checksums.
        let v = cpu_v1(
            "static",
            "7-9",
            Some(vec![("containerID2", "1-3"), ("containerID1", "4-6")]),
        );
        assert_eq!(
            v.spew(),
            "(*state.CPUManagerCheckpoint){PolicyName:(string)static DefaultCPUSet:(string)7-9 Entries:(map[string]string)map[containerID1:4-6 containerID2:1-3] Checksum:(checksum.Checksum)0}"
        );
        assert_eq!(checksum(&v), 2_026_311_253);
        // newCPUManagerCheckpointV1 makes Entries a non-nil empty map: `map[]`, not `<nil>`.
        assert_eq!(
            checksum(&cpu_v1("none", "1-3", Some(vec![]))),
            1_694_838_852
        );
        assert_ne!(checksum(&cpu_v1("none", "1-3", None)), 1_694_838_852);
    }

    fn data(json: &str) -> Value {
        let v: Value = serde_json::from_str(json).expect("json");
        v["Data"].clone()
    }

    #[test]
    fn device_checkpoints_captured_from_real_kubelets_verify() {
        // Published `cat /var/lib/kubelet/device-plugins/kubelet_internal_checkpoint` outputs:
        // Alibaba Cloud ACK's GPU device-id troubleshooting page (no allocations), and a kind
        // node on a Jetson running NVIDIA's device plugin (one allocation, NUMA -1).
        let ack = r#"{"Data":{"PodDeviceEntries":null,"RegisteredDevices":{"nvidia.com/gpu":["GPU-0650a168-e770-3ea8-8ac3-8a1d419763e0"]}},"Checksum":3952659280}"#;
        assert_eq!(device_checkpoint_checksum(&data(ack)), Ok(3_952_659_280));
        let kind = r#"{"Data":{"PodDeviceEntries":[{"PodUID":"bf52b2cd-b611-4e79-86b1-280b283185c3","ContainerName":"check","ResourceName":"nvidia.com/gpu","DeviceIDs":{"-1":["tegra"]},"AllocResp":"Ch8KFk5WSURJQV9WSVNJQkxFX0RFVklDRVMSBXRlZ3Jh"}],"RegisteredDevices":{"nvidia.com/gpu":["tegra"]}},"Checksum":3660592824}"#;
        assert_eq!(device_checkpoint_checksum(&data(kind)), Ok(3_660_592_824));
    }

    #[test]
    fn the_rendering_of_a_device_checkpoint_is_spews() {
        let d = data(
            r#"{"Data":{"PodDeviceEntries":[{"PodUID":"u","ContainerName":"c","ResourceName":"r","DeviceIDs":{"1":["b"],"-1":["a"]},"AllocResp":"AQI="}],"RegisteredDevices":{"r":["a","b"],"q":null}}}"#,
        );
        assert_eq!(
            device_checkpoint_value(&d).map(|v| v.spew()),
            Ok("(checkpoint.checkpointData){PodDeviceEntries:([]checkpoint.PodDevicesEntry)[{PodUID:(string)u ContainerName:(string)c ResourceName:(string)r DeviceIDs:(checkpoint.DevicesPerNUMA)map[-1:[a] 1:[b]] AllocResp:([]uint8)[1 2]}] RegisteredDevices:(map[string][]string)map[q:<nil> r:[a b]]}".to_string())
        );
    }

    #[test]
    fn nil_and_empty_differ_as_in_go() {
        let nil = device_checkpoint_checksum(&data(r#"{"Data":{}}"#));
        let empty = device_checkpoint_checksum(&data(
            r#"{"Data":{"PodDeviceEntries":[],"RegisteredDevices":{}}}"#,
        ));
        assert_ne!(nil, empty);
        // An empty AllocResp decodes to a non-nil empty slice; a missing one stays nil.
        let with = |alloc: &str| {
            device_checkpoint_checksum(&data(&format!(
                r#"{{"Data":{{"PodDeviceEntries":[{{"PodUID":"u","DeviceIDs":{{}}{alloc}}}]}}}}"#
            )))
        };
        assert_ne!(with(r#","AllocResp":"""#), with(""));
    }

    #[test]
    fn the_old_list_format_is_checksummed_under_the_new_type_names() {
        let d = data(
            r#"{"Data":{"PodDeviceEntries":[{"PodUID":"u","ContainerName":"c","ResourceName":"r","DeviceIDs":["a"],"AllocResp":""}],"RegisteredDevices":{}}}"#,
        );
        assert_eq!(
            device_checkpoint_value(&d).map(|v| v.spew()),
            Ok("(checkpoint.checkpointData){PodDeviceEntries:([]checkpoint.PodDevicesEntry)[{PodUID:(string)u ContainerName:(string)c ResourceName:(string)r DeviceIDs:([]string)[a] AllocResp:([]uint8)[]}] RegisteredDevices:(map[string][]string)map[]}".to_string())
        );
    }

    #[test]
    fn a_mismatch_is_said_with_both_numbers() {
        let good = br#"{"Data":{"PodDeviceEntries":null,"RegisteredDevices":{"nvidia.com/gpu":["GPU-0650a168-e770-3ea8-8ac3-8a1d419763e0"]}},"Checksum":3952659280}"#;
        assert_eq!(device_checkpoint_mismatch(good), None);
        let bad = br#"{"Data":{"PodDeviceEntries":null,"RegisteredDevices":{"nvidia.com/gpu":["GPU-0650a168-e770-3ea8-8ac3-8a1d419763e0"]}},"Checksum":2870915712}"#;
        let m = device_checkpoint_mismatch(bad).expect("a mismatch");
        assert!(
            m.starts_with("checksum 2870915712 does not match 3952659280,"),
            "{m}"
        );
        let none = br#"{"Data":{"PodDeviceEntries":null,"RegisteredDevices":{}}}"#;
        assert!(
            device_checkpoint_mismatch(none).is_some_and(|m| m.starts_with("checksum missing"))
        );
        assert_eq!(device_checkpoint_mismatch(b"not json"), None);
    }

    #[test]
    fn malformed_values_are_errors_not_guesses() {
        assert!(device_checkpoint_checksum(&data(r#"{"Data":{"PodDeviceEntries":{}}}"#)).is_err());
        assert!(
            device_checkpoint_checksum(&data(
                r#"{"Data":{"PodDeviceEntries":[{"DeviceIDs":{"x":["a"]}}]}}"#
            ))
            .is_err()
        );
        assert!(
            device_checkpoint_checksum(&data(
                r#"{"Data":{"PodDeviceEntries":[{"AllocResp":"%%%"}]}}"#
            ))
            .is_err()
        );
    }
}
