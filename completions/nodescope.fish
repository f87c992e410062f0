# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_nodescope_global_optspecs
    string join \n root= bundle= kubeconfig= no-cluster cluster-dump= color= h/help V/version
end

function __fish_nodescope_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_nodescope_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_nodescope_using_subcommand
    set -l cmd (__fish_nodescope_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c nodescope -n "__fish_nodescope_needs_command" -l root -d 'Read the live host under DIR (default: /, or /host when it holds a node)' -r -F
complete -c nodescope -n "__fish_nodescope_needs_command" -l bundle -d 'Analyze a capture instead of a live host: a bundle directory or a .tar.gz from `capture`' -r -F
complete -c nodescope -n "__fish_nodescope_needs_command" -l kubeconfig -d 'Ask the API server with this kubeconfig (default: KUBECONFIG, the in-cluster service account, then the node\'s kubelet kubeconfig under the host root)' -r -F
complete -c nodescope -n "__fish_nodescope_needs_command" -l cluster-dump -d 'Read the cluster from `kubectl get nodes,pods,events -o json` List documents in DIR (nodes.json, pods.json, events.json) instead of the API server' -r -F
complete -c nodescope -n "__fish_nodescope_needs_command" -l color -d 'When to colour the text report (an explicit choice beats NO_COLOR)' -r -f -a "auto\t'Colour on a terminal unless NO_COLOR is set'
always\t'Colour, even when piped or NO_COLOR is set'
never\t'No colour'"
complete -c nodescope -n "__fish_nodescope_needs_command" -l no-cluster -d 'Do not ask the API server; every local rule still runs'
complete -c nodescope -n "__fish_nodescope_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nodescope -n "__fish_nodescope_needs_command" -s V -l version -d 'Print version'
complete -c nodescope -n "__fish_nodescope_needs_command" -f -a "check" -d 'Diagnose the node and report findings, worst first (the default command when piped)'
complete -c nodescope -n "__fish_nodescope_needs_command" -f -a "top" -d 'The live view: verdicts, gauges against the kubelet\'s thresholds, pods, findings, timeline, DNS, disk, GPU (the default command on a terminal)'
complete -c nodescope -n "__fish_nodescope_needs_command" -f -a "snapshot" -d 'Print everything collected from the node, as JSON'
complete -c nodescope -n "__fish_nodescope_needs_command" -f -a "rules" -d 'List every rule: id, default severity, summary'
complete -c nodescope -n "__fish_nodescope_needs_command" -f -a "explain" -d 'Explain a rule: what it means, why it matters, how to confirm it, what to change'
complete -c nodescope -n "__fish_nodescope_needs_command" -f -a "disk" -d 'Disk bytes and inodes: filesystems against the kubelet\'s thresholds, top consumers, fixes'
complete -c nodescope -n "__fish_nodescope_needs_command" -f -a "dns" -d 'Pods\' DNS: resolv.conf per pod, the queries one external lookup costs, conntrack'
complete -c nodescope -n "__fish_nodescope_needs_command" -f -a "gpu" -d 'GPUs: devices, driver, which pod holds each device, and why GPU pods are Pending'
complete -c nodescope -n "__fish_nodescope_needs_command" -f -a "capture" -d 'Record everything nodescope reads from this host into a .tar.gz bundle'
complete -c nodescope -n "__fish_nodescope_needs_command" -f -a "serve" -d 'Serve /metrics, /findings and /healthz from a periodic sample, for a DaemonSet'
complete -c nodescope -n "__fish_nodescope_needs_command" -f -a "fleet" -d 'Every node\'s conditions and its agent\'s findings, through the API server'
complete -c nodescope -n "__fish_nodescope_needs_command" -f -a "debug" -d 'Run `check` on one node from here, in a short-lived pod, and relay its report'
complete -c nodescope -n "__fish_nodescope_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c nodescope -n "__fish_nodescope_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nodescope -n "__fish_nodescope_using_subcommand check" -s o -l output -l format -d 'Output format' -r -f -a "text\t'A human report, worst first'
json\t'One JSON object (schema `nodescope-check/1`)'
prometheus\t'node_exporter textfile-collector format'
npd\t'node-problem-detector custom plugin: one line, exit 0 OK / 1 problem'
junit\t'JUnit XML, one test case per rule'"
complete -c nodescope -n "__fish_nodescope_using_subcommand check" -l fail-on -d 'Exit non-zero when a finding at or above this severity exists' -r -f -a "info\t'Any finding, informational ones included'
warning\t'A warning or a critical finding'
critical\t'A critical finding only'
never\t'Never: exit 0 whatever is found (3 still means nodescope could not run)'"
complete -c nodescope -n "__fish_nodescope_using_subcommand check" -l rule -d 'Report only these rules (repeatable), e.g. one node-problem-detector condition per rule' -r -f -a "cpu.pressure\t''
cpu.throttling\t''
disk.container-log-oversize\t''
disk.deleted-open-files\t''
disk.emptydir-large\t''
disk.filesystem-full\t''
disk.imagefs-pressure\t''
disk.inode-exhaustion\t''
disk.nodefs-pressure\t''
disk.orphaned-pod-logs\t''
disk.orphaned-pod-volumes\t''
dns.conntrack-race\t''
dns.nameserver-limit\t''
dns.ndots-amplification\t''
dns.no-cluster-dns\t''
dns.policy-default\t''
dns.probe-failed\t''
dns.search-limit\t''
eviction.besteffort-critical\t''
eviction.hard-only\t''
eviction.no-memory-threshold\t''
eviction.no-minimum-reclaim\t''
eviction.no-reserved\t''
fs.io-error\t''
fs.read-only\t''
gpu.all-allocated\t''
gpu.cuda-oom\t''
gpu.device-plugin-missing\t''
gpu.driver-not-loaded\t''
gpu.memory-near-full\t''
gpu.mig-resource-mismatch\t''
gpu.operator-unhealthy\t''
gpu.pending-pod\t''
gpu.xid\t''
kernel.hung-task\t''
kernel.soft-lockup\t''
kubelet.cert-expiry\t''
memory.eviction-order\t''
memory.global-oom\t''
memory.kernel-oom-kill\t''
memory.limit-near-peak\t''
memory.oom-race\t''
memory.pressure\t''
net.cni-missing\t''
net.conntrack-table-full\t''
node.clock-unsynced\t''
node.condition\t''
node.kubelet-config-drift\t''
node.kubelet-not-running\t''
node.kubelet-stats-mismatch\t''
node.service-flapping\t''
node.swap-on\t''
pid.pressure\t''
pid.unbounded-pods\t''
pod.shm-small\t''
runtime.not-ready\t''"
complete -c nodescope -n "__fish_nodescope_using_subcommand check" -l watch -d 'Repeat the report every SECONDS (2 when given alone) until interrupted: redrawn in place on a terminal, one report after another on a pipe (JSON: one document per sample)' -r
complete -c nodescope -n "__fish_nodescope_using_subcommand check" -l root -d 'Read the live host under DIR (default: /, or /host when it holds a node; NODESCOPE_ROOT sets it too)' -r -F
complete -c nodescope -n "__fish_nodescope_using_subcommand check" -l bundle -d 'Analyze a capture instead of a live host: a bundle directory or a .tar.gz from `capture`' -r -F
complete -c nodescope -n "__fish_nodescope_using_subcommand check" -l kubeconfig -d 'Ask the API server with this kubeconfig (default: KUBECONFIG, the in-cluster service account, then the node\'s kubelet kubeconfig under the host root)' -r -F
complete -c nodescope -n "__fish_nodescope_using_subcommand check" -l cluster-dump -d 'Read the cluster from `kubectl get nodes,pods,events -o json` List documents in DIR (nodes.json, pods.json, events.json) instead of the API server' -r -F
complete -c nodescope -n "__fish_nodescope_using_subcommand check" -l color -d 'When to colour: auto (a terminal without NO_COLOR), always, never; an explicit choice beats NO_COLOR (no-color.org)' -r -f -a "auto\t'Colour on a terminal unless NO_COLOR is set'
always\t'Colour, even when piped or NO_COLOR is set'
never\t'No colour'"
complete -c nodescope -n "__fish_nodescope_using_subcommand check" -s v -l verbose -d 'Text: show informational findings too (JSON and the other formats always carry them)'
complete -c nodescope -n "__fish_nodescope_using_subcommand check" -l expand -d 'Text: list every subject of a group, not the first three and a count'
complete -c nodescope -n "__fish_nodescope_using_subcommand check" -l cluster -d 'Also report cluster-wide findings (Pending pods) for which this node is no candidate'
complete -c nodescope -n "__fish_nodescope_using_subcommand check" -l debug-timings -d 'Print the wall time of each phase of a sample (each collector by name, the cluster part, analyze, render) in milliseconds on standard error'
complete -c nodescope -n "__fish_nodescope_using_subcommand check" -l no-cluster -d 'Do not ask the API server; every local rule still runs'
complete -c nodescope -n "__fish_nodescope_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nodescope -n "__fish_nodescope_using_subcommand top" -l interval -d 'Seconds between samples' -r
complete -c nodescope -n "__fish_nodescope_using_subcommand top" -l size -d 'The frame\'s size for --once, COLUMNSxROWS' -r
complete -c nodescope -n "__fish_nodescope_using_subcommand top" -l root -d 'Read the live host under DIR (default: /, or /host when it holds a node; NODESCOPE_ROOT sets it too)' -r -F
complete -c nodescope -n "__fish_nodescope_using_subcommand top" -l bundle -d 'Analyze a capture instead of a live host: a bundle directory or a .tar.gz from `capture`' -r -F
complete -c nodescope -n "__fish_nodescope_using_subcommand top" -l kubeconfig -d 'Ask the API server with this kubeconfig (default: KUBECONFIG, the in-cluster service account, then the node\'s kubelet kubeconfig under the host root)' -r -F
complete -c nodescope -n "__fish_nodescope_using_subcommand top" -l cluster-dump -d 'Read the cluster from `kubectl get nodes,pods,events -o json` List documents in DIR (nodes.json, pods.json, events.json) instead of the API server' -r -F
complete -c nodescope -n "__fish_nodescope_using_subcommand top" -l color -d 'When to colour: auto (a terminal without NO_COLOR), always, never; an explicit choice beats NO_COLOR (no-color.org)' -r -f -a "auto\t'Colour on a terminal unless NO_COLOR is set'
always\t'Colour, even when piped or NO_COLOR is set'
never\t'No colour'"
complete -c nodescope -n "__fish_nodescope_using_subcommand top" -l once -d 'Print one frame of the first view to standard output and exit (for a ticket); needs no terminal'
complete -c nodescope -n "__fish_nodescope_using_subcommand top" -l debug-timings -d 'Print the wall time of each phase of a sample (each collector by name, the cluster part, analyze, render) in milliseconds on standard error when it exits: the first (full) sample, and the mean of the later (incremental) ones'
complete -c nodescope -n "__fish_nodescope_using_subcommand top" -l no-cluster -d 'Do not ask the API server; every local rule still runs'
complete -c nodescope -n "__fish_nodescope_using_subcommand top" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nodescope -n "__fish_nodescope_using_subcommand snapshot" -s o -l output -l format -d 'Output format (JSON, schema nodescope-snapshot/1)' -r -f -a "json\t''"
complete -c nodescope -n "__fish_nodescope_using_subcommand snapshot" -l root -d 'Read the live host under DIR (default: /, or /host when it holds a node; NODESCOPE_ROOT sets it too)' -r -F
complete -c nodescope -n "__fish_nodescope_using_subcommand snapshot" -l bundle -d 'Analyze a capture instead of a live host: a bundle directory or a .tar.gz from `capture`' -r -F
complete -c nodescope -n "__fish_nodescope_using_subcommand snapshot" -l kubeconfig -d 'Ask the API server with this kubeconfig (default: KUBECONFIG, the in-cluster service account, then the node\'s kubelet kubeconfig under the host root)' -r -F
complete -c nodescope -n "__fish_nodescope_using_subcommand snapshot" -l cluster-dump -d 'Read the cluster from `kubectl get nodes,pods,events -o json` List documents in DIR (nodes.json, pods.json, events.json) instead of the API server' -r -F
complete -c nodescope -n "__fish_nodescope_using_subcommand snapshot" -l no-cluster -d 'Do not ask the API server; every local rule still runs'
complete -c nodescope -n "__fish_nodescope_using_subcommand snapshot" -s h -l help -d 'Print help'
complete -c nodescope -n "__fish_nodescope_using_subcommand rules" -s o -l output -l format -d 'Output format: a table with a header row, or JSON (schema nodescope-rules/1)' -r -f -a "text\t'ID, SEVERITY, SUMMARY columns under a header row'
json\t'`{"schema": "nodescope-rules/1", "rules": [{"id", "severity", "summary"}]}`'"
complete -c nodescope -n "__fish_nodescope_using_subcommand rules" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nodescope -n "__fish_nodescope_using_subcommand explain" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nodescope -n "__fish_nodescope_using_subcommand disk" -s o -l output -l format -d 'Output format' -r -f -a "text\t'A human report'
json\t'Schema nodescope-disk/1'"
complete -c nodescope -n "__fish_nodescope_using_subcommand disk" -l budget -d 'Seconds all directory walks together may take' -r
complete -c nodescope -n "__fish_nodescope_using_subcommand disk" -l fail-on -d 'Exit non-zero when a disk finding at or above this severity exists' -r -f -a "info\t'Any finding, informational ones included'
warning\t'A warning or a critical finding'
critical\t'A critical finding only'
never\t'Never: exit 0 whatever is found (3 still means nodescope could not run)'"
complete -c nodescope -n "__fish_nodescope_using_subcommand disk" -l root -d 'Read the live host under DIR (default: /, or /host when it holds a node; NODESCOPE_ROOT sets it too)' -r -F
complete -c nodescope -n "__fish_nodescope_using_subcommand disk" -l bundle -d 'Analyze a capture instead of a live host: a bundle directory or a .tar.gz from `capture`' -r -F
complete -c nodescope -n "__fish_nodescope_using_subcommand disk" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nodescope -n "__fish_nodescope_using_subcommand dns; and not __fish_seen_subcommand_from probe help" -l name -d 'The external name to count queries for' -r
complete -c nodescope -n "__fish_nodescope_using_subcommand dns; and not __fish_seen_subcommand_from probe help" -s o -l output -l format -d 'Output format (json: schema nodescope-dns/1)' -r -f -a "text\t'A human report'
json\t''"
complete -c nodescope -n "__fish_nodescope_using_subcommand dns; and not __fish_seen_subcommand_from probe help" -l fail-on -d 'Exit non-zero when a dns.* or net.* finding at or above this severity exists' -r -f -a "info\t'Any finding, informational ones included'
warning\t'A warning or a critical finding'
critical\t'A critical finding only'
never\t'Never: exit 0 whatever is found (3 still means nodescope could not run)'"
complete -c nodescope -n "__fish_nodescope_using_subcommand dns; and not __fish_seen_subcommand_from probe help" -l root -d 'Read the live host under DIR (default: /, or /host when it holds a node; NODESCOPE_ROOT sets it too)' -r -F
complete -c nodescope -n "__fish_nodescope_using_subcommand dns; and not __fish_seen_subcommand_from probe help" -l bundle -d 'Analyze a capture instead of a live host: a bundle directory or a .tar.gz from `capture`' -r -F
complete -c nodescope -n "__fish_nodescope_using_subcommand dns; and not __fish_seen_subcommand_from probe help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nodescope -n "__fish_nodescope_using_subcommand dns; and not __fish_seen_subcommand_from probe help" -f -a "probe" -d 'Send the queries a pod\'s resolver sends for NAME, from its network namespace'
complete -c nodescope -n "__fish_nodescope_using_subcommand dns; and not __fish_seen_subcommand_from probe help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nodescope -n "__fish_nodescope_using_subcommand dns; and __fish_seen_subcommand_from probe" -l pod -d 'The pod whose resolver to play, NAMESPACE/POD' -r
complete -c nodescope -n "__fish_nodescope_using_subcommand dns; and __fish_seen_subcommand_from probe" -l pid -d 'A process whose network namespace and /etc/resolv.conf to use' -r
complete -c nodescope -n "__fish_nodescope_using_subcommand dns; and __fish_seen_subcommand_from probe" -l timeout -d 'Seconds to wait for each answer (default: the resolver\'s own timeout, 5 s unless set)' -r
complete -c nodescope -n "__fish_nodescope_using_subcommand dns; and __fish_seen_subcommand_from probe" -s o -l output -l format -d 'Output format (json: schema nodescope-dns-probe/1)' -r -f -a "text\t'A human report'
json\t''"
complete -c nodescope -n "__fish_nodescope_using_subcommand dns; and __fish_seen_subcommand_from probe" -l fail-on -d 'Exit non-zero when the probe fails at or above this severity (dns.probe-failed is critical)' -r -f -a "info\t'Any finding, informational ones included'
warning\t'A warning or a critical finding'
critical\t'A critical finding only'
never\t'Never: exit 0 whatever is found (3 still means nodescope could not run)'"
complete -c nodescope -n "__fish_nodescope_using_subcommand dns; and __fish_seen_subcommand_from probe" -l root -d 'Read the live host under DIR (default: /, or /host when it holds a node; NODESCOPE_ROOT sets it too)' -r -F
complete -c nodescope -n "__fish_nodescope_using_subcommand dns; and __fish_seen_subcommand_from probe" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nodescope -n "__fish_nodescope_using_subcommand dns; and __fish_seen_subcommand_from help" -f -a "probe" -d 'Send the queries a pod\'s resolver sends for NAME, from its network namespace'
complete -c nodescope -n "__fish_nodescope_using_subcommand dns; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nodescope -n "__fish_nodescope_using_subcommand gpu" -s o -l output -l format -d 'Output format (json: schema nodescope-gpu/1)' -r -f -a "text\t'A human report'
json\t'Schema nodescope-gpu/1'"
complete -c nodescope -n "__fish_nodescope_using_subcommand gpu" -l fail-on -d 'Exit non-zero when a gpu.* finding at or above this severity exists' -r -f -a "info\t'Any finding, informational ones included'
warning\t'A warning or a critical finding'
critical\t'A critical finding only'
never\t'Never: exit 0 whatever is found (3 still means nodescope could not run)'"
complete -c nodescope -n "__fish_nodescope_using_subcommand gpu" -l root -d 'Read the live host under DIR (default: /, or /host when it holds a node; NODESCOPE_ROOT sets it too)' -r -F
complete -c nodescope -n "__fish_nodescope_using_subcommand gpu" -l bundle -d 'Analyze a capture instead of a live host: a bundle directory or a .tar.gz from `capture`' -r -F
complete -c nodescope -n "__fish_nodescope_using_subcommand gpu" -l kubeconfig -d 'Ask the API server with this kubeconfig (default: KUBECONFIG, the in-cluster service account, then the node\'s kubelet kubeconfig under the host root)' -r -F
complete -c nodescope -n "__fish_nodescope_using_subcommand gpu" -l cluster-dump -d 'Read the cluster from `kubectl get nodes,pods,events -o json` List documents in DIR (nodes.json, pods.json, events.json) instead of the API server' -r -F
complete -c nodescope -n "__fish_nodescope_using_subcommand gpu" -l no-cluster -d 'Do not ask the API server; every local rule still runs'
complete -c nodescope -n "__fish_nodescope_using_subcommand gpu" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nodescope -n "__fish_nodescope_using_subcommand capture" -s f -l out -d 'Where to write the bundle: a new file or a regular one to replace (a directory, device, FIFO, socket or symbolic link is refused), or `-` for standard output (default: nodescope-<hostname>-<time>.tar.gz here)' -r -F
complete -c nodescope -n "__fish_nodescope_using_subcommand capture" -l root -d 'Read the live host under DIR (default: /, or /host when it holds a node; NODESCOPE_ROOT sets it too)' -r -F
complete -c nodescope -n "__fish_nodescope_using_subcommand capture" -l kubeconfig -d 'Ask the API server with this kubeconfig (default: KUBECONFIG, the in-cluster service account, then the node\'s kubelet kubeconfig under the host root)' -r -F
complete -c nodescope -n "__fish_nodescope_using_subcommand capture" -l cluster-dump -d 'Read the cluster from `kubectl get nodes,pods,events -o json` List documents in DIR (nodes.json, pods.json, events.json) instead of the API server' -r -F
complete -c nodescope -n "__fish_nodescope_using_subcommand capture" -l no-cluster -d 'Do not ask the API server; every local rule still runs'
complete -c nodescope -n "__fish_nodescope_using_subcommand capture" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nodescope -n "__fish_nodescope_using_subcommand serve" -l listen -d 'Address to listen on, e.g. 0.0.0.0:9808 or 127.0.0.1:0 (any free port)' -r
complete -c nodescope -n "__fish_nodescope_using_subcommand serve" -l interval -d 'Seconds from the end of one sample to the start of the next (at least 1); /healthz fails after 3 of them without a completed sample' -r
complete -c nodescope -n "__fish_nodescope_using_subcommand serve" -l root -d 'Read the live host under DIR (default: /, or /host when it holds a node; NODESCOPE_ROOT sets it too)' -r -F
complete -c nodescope -n "__fish_nodescope_using_subcommand serve" -l bundle -d 'Analyze a capture instead of a live host: a bundle directory or a .tar.gz from `capture`' -r -F
complete -c nodescope -n "__fish_nodescope_using_subcommand serve" -l kubeconfig -d 'Ask the API server with this kubeconfig (default: KUBECONFIG, the in-cluster service account, then the node\'s kubelet kubeconfig under the host root)' -r -F
complete -c nodescope -n "__fish_nodescope_using_subcommand serve" -l cluster-dump -d 'Read the cluster from `kubectl get nodes,pods,events -o json` List documents in DIR (nodes.json, pods.json, events.json) instead of the API server' -r -F
complete -c nodescope -n "__fish_nodescope_using_subcommand serve" -l debug-timings -d 'Print the wall time of each phase of a sample (each collector by name, the cluster part, analyze, render) in milliseconds on standard error, one line per sample'
complete -c nodescope -n "__fish_nodescope_using_subcommand serve" -l no-cluster -d 'Do not ask the API server; every local rule still runs'
complete -c nodescope -n "__fish_nodescope_using_subcommand serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nodescope -n "__fish_nodescope_using_subcommand fleet" -s o -l format -l output -d 'Output format (`json`: schema nodescope-fleet/1)' -r -f -a "text\t''
json\t'Schema nodescope-fleet/1'"
complete -c nodescope -n "__fish_nodescope_using_subcommand fleet" -s l -l selector -d 'Only the nodes with these labels, as `kubectl get nodes -l` (e.g. pool=gpu,zone!=a)' -r
complete -c nodescope -n "__fish_nodescope_using_subcommand fleet" -s n -l namespace -d 'The namespace of the agent pods (default: every namespace)' -r
complete -c nodescope -n "__fish_nodescope_using_subcommand fleet" -l concurrency -d 'Agents asked at the same time' -r
complete -c nodescope -n "__fish_nodescope_using_subcommand fleet" -l timeout -d 'Seconds the whole run may take; agents that have not answered by then show `timeout`' -r
complete -c nodescope -n "__fish_nodescope_using_subcommand fleet" -l fail-on -d 'Exit non-zero when a node has a finding at or above this severity (`never`: exit 0)' -r -f -a "info\t'Any finding, informational ones included'
warning\t'A warning or a critical finding'
critical\t'A critical finding only'
never\t'Never: exit 0 whatever is found (3 still means nodescope could not run)'"
complete -c nodescope -n "__fish_nodescope_using_subcommand fleet" -l kubeconfig -d 'The kubeconfig to use (default: KUBECONFIG, the in-cluster service account, then ~/.kube/config)' -r -F
complete -c nodescope -n "__fish_nodescope_using_subcommand fleet" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nodescope -n "__fish_nodescope_using_subcommand debug" -l image -d 'The image to run (default: the image of the DaemonSet labelled app.kubernetes.io/name=nodescope)' -r
complete -c nodescope -n "__fish_nodescope_using_subcommand debug" -s n -l namespace -d 'The namespace to create the pod in' -r
complete -c nodescope -n "__fish_nodescope_using_subcommand debug" -l start-timeout -d 'Seconds the pod may take to start (image pull included)' -r
complete -c nodescope -n "__fish_nodescope_using_subcommand debug" -l kubeconfig -d 'The kubeconfig to use (default: KUBECONFIG, the in-cluster service account, then ~/.kube/config)' -r -F
complete -c nodescope -n "__fish_nodescope_using_subcommand debug" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nodescope -n "__fish_nodescope_using_subcommand completions" -s h -l help -d 'Print help'
complete -c nodescope -n "__fish_nodescope_using_subcommand help; and not __fish_seen_subcommand_from check top snapshot rules explain disk dns gpu capture serve fleet debug completions help" -f -a "check" -d 'Diagnose the node and report findings, worst first (the default command when piped)'
complete -c nodescope -n "__fish_nodescope_using_subcommand help; and not __fish_seen_subcommand_from check top snapshot rules explain disk dns gpu capture serve fleet debug completions help" -f -a "top" -d 'The live view: verdicts, gauges against the kubelet\'s thresholds, pods, findings, timeline, DNS, disk, GPU (the default command on a terminal)'
complete -c nodescope -n "__fish_nodescope_using_subcommand help; and not __fish_seen_subcommand_from check top snapshot rules explain disk dns gpu capture serve fleet debug completions help" -f -a "snapshot" -d 'Print everything collected from the node, as JSON'
complete -c nodescope -n "__fish_nodescope_using_subcommand help; and not __fish_seen_subcommand_from check top snapshot rules explain disk dns gpu capture serve fleet debug completions help" -f -a "rules" -d 'List every rule: id, default severity, summary'
complete -c nodescope -n "__fish_nodescope_using_subcommand help; and not __fish_seen_subcommand_from check top snapshot rules explain disk dns gpu capture serve fleet debug completions help" -f -a "explain" -d 'Explain a rule: what it means, why it matters, how to confirm it, what to change'
complete -c nodescope -n "__fish_nodescope_using_subcommand help; and not __fish_seen_subcommand_from check top snapshot rules explain disk dns gpu capture serve fleet debug completions help" -f -a "disk" -d 'Disk bytes and inodes: filesystems against the kubelet\'s thresholds, top consumers, fixes'
complete -c nodescope -n "__fish_nodescope_using_subcommand help; and not __fish_seen_subcommand_from check top snapshot rules explain disk dns gpu capture serve fleet debug completions help" -f -a "dns" -d 'Pods\' DNS: resolv.conf per pod, the queries one external lookup costs, conntrack'
complete -c nodescope -n "__fish_nodescope_using_subcommand help; and not __fish_seen_subcommand_from check top snapshot rules explain disk dns gpu capture serve fleet debug completions help" -f -a "gpu" -d 'GPUs: devices, driver, which pod holds each device, and why GPU pods are Pending'
complete -c nodescope -n "__fish_nodescope_using_subcommand help; and not __fish_seen_subcommand_from check top snapshot rules explain disk dns gpu capture serve fleet debug completions help" -f -a "capture" -d 'Record everything nodescope reads from this host into a .tar.gz bundle'
complete -c nodescope -n "__fish_nodescope_using_subcommand help; and not __fish_seen_subcommand_from check top snapshot rules explain disk dns gpu capture serve fleet debug completions help" -f -a "serve" -d 'Serve /metrics, /findings and /healthz from a periodic sample, for a DaemonSet'
complete -c nodescope -n "__fish_nodescope_using_subcommand help; and not __fish_seen_subcommand_from check top snapshot rules explain disk dns gpu capture serve fleet debug completions help" -f -a "fleet" -d 'Every node\'s conditions and its agent\'s findings, through the API server'
complete -c nodescope -n "__fish_nodescope_using_subcommand help; and not __fish_seen_subcommand_from check top snapshot rules explain disk dns gpu capture serve fleet debug completions help" -f -a "debug" -d 'Run `check` on one node from here, in a short-lived pod, and relay its report'
complete -c nodescope -n "__fish_nodescope_using_subcommand help; and not __fish_seen_subcommand_from check top snapshot rules explain disk dns gpu capture serve fleet debug completions help" -f -a "completions" -d 'Print a shell completion script'
complete -c nodescope -n "__fish_nodescope_using_subcommand help; and not __fish_seen_subcommand_from check top snapshot rules explain disk dns gpu capture serve fleet debug completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nodescope -n "__fish_nodescope_using_subcommand help; and __fish_seen_subcommand_from dns" -f -a "probe" -d 'Send the queries a pod\'s resolver sends for NAME, from its network namespace'
