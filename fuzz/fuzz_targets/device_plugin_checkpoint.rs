//! The kubelet's device-manager checkpoint (`device-plugins/kubelet_internal_checkpoint`), in
//! its current (DeviceIDs per NUMA node) and pre-1.20 (flat DeviceIDs) forms.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nodescope::collect::gpu::parse_checkpoint;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Ok(c) = parse_checkpoint(data) else {
        return;
    };
    for a in &c.allocations {
        assert!(a.device_ids.windows(2).all(|w| w[0] <= w[1]));
    }
    // Written back by a kubelet, in either format, it reads back the same.
    for numa in [false, true] {
        let entries: Vec<_> = c
            .allocations
            .iter()
            .map(|a| {
                let ids = if numa {
                    json!({"0": a.device_ids})
                } else {
                    json!(a.device_ids)
                };
                json!({"PodUID": a.pod_uid, "ContainerName": a.container,
                       "ResourceName": a.resource, "DeviceIDs": ids, "AllocResp": ""})
            })
            .collect();
        let again = json!({"Data": {"PodDeviceEntries": entries, "RegisteredDevices": c.registered},
                           "Checksum": 0});
        let back = parse_checkpoint(&serde_json::to_vec(&again).unwrap()).unwrap();
        assert_eq!(back, c);
    }
});
