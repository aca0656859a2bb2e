//! Entry points for the fuzz targets (`fuzz/fuzz_targets/`): each takes
//! bytes as a user could hand them to the runtime and runs the same parsing
//! and checking the command would, up to the first step that touches the
//! host. Any input must end in `Ok` or `Err`: a panic, a hang or an abort
//! is the bug the fuzzer looks for.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;

/// `config.json` of a bundle at `bundle` (which holds a `rootfs`): parsed
/// and made into the create plan, annotations (beancounters, /proc view)
/// and seccomp profile included.
pub fn config(bundle: &Path, data: &[u8]) -> Result<()> {
    let spec = crate::spec::parse(data)?;
    let defaults = crate::spec::Defaults {
        systemd_cgroup: false,
        proc_view: crate::linux::lxcfs::View::Host,
        lxcfs_path: PathBuf::from("/var/lib/lxcfs"),
    };
    let state_dir = bundle.join("state");
    let at = crate::spec::Placement {
        state_dir: &state_dir,
        defaults: &defaults,
    };
    crate::spec::plan_for_fuzzing(spec, bundle.to_path_buf(), "fuzz", &at).map(drop)
}

/// `exec --process process.json`.
pub fn process(data: &[u8]) -> Result<()> {
    let p = crate::container::exec::parse_process(Path::new("process.json"), data)?;
    crate::spec::process_plan(&p).map(drop)
}

/// `update -r resources.json`, laid over a container's recorded resources.
pub fn update(data: &[u8]) -> Result<()> {
    let changes = crate::container::update::parse_resources("resources.json", data)?;
    crate::container::update::merge_resources(&Default::default(), &changes).map(drop)
}

/// Beancounter annotations (`org.openvz.ubc.*`), one `key=value` per line,
/// folded into a config's resources as create does; and each as
/// `update --ubc`.
pub fn annotations(data: &[u8]) -> Result<()> {
    let text = std::str::from_utf8(data)?;
    let mut map = std::collections::HashMap::new();
    for line in text.lines() {
        let (k, v) = line.split_once('=').unwrap_or((line, ""));
        map.insert(k.to_string(), v.to_string());
        if let Some(res) = k.strip_prefix(crate::cgroups::ubc::ANNOTATION_PREFIX) {
            let _ = crate::container::update::parse_ubc(res, v);
        }
    }
    let ubc: BTreeMap<_, _> = crate::cgroups::ubc::from_annotations(Some(&map))?;
    let mut resources = Default::default();
    crate::cgroups::ubc::merge(&ubc, &mut resources, &Default::default(), &mut |_| {})?;
    let _ = crate::cgroups::ubc::rlimits(&ubc);
    let _ = crate::cgroups::ubc::disk(&ubc);
    Ok(())
}

/// A container's `state.json`, as `state`, `list` and `delete` read it.
pub fn state(data: &[u8]) -> Result<()> {
    let s: crate::state::State = serde_json::from_slice(data)?;
    crate::state::check_id(&s.id)?;
    let _ = crate::container::status::OciState::of(&s, s.status).to_json();
    Ok(())
}
