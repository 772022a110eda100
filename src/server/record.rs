//! What the record of a finished sandbox keeps. Records stay for hours
//! after their sandbox ends, so what a request put into them (file
//! contents, and any text a client made large) must not stay with them.
use super::clip::{clip, clip_in_place};
use crate::proto::v1 as pb;
use prost::Message;

/// A finished record larger than this keeps only its essentials.
pub const MAX_FINISHED_RECORD: usize = 16 << 10;
/// Longest state_reason kept (it can quote a command).
const MAX_REASON: usize = 4 << 10;
/// Longest single name, image, command or path kept among the essentials.
const MAX_TEXT: usize = 256;
/// Tags kept among the essentials, in bytes; whole tags only, so that
/// filtering by tag stays exact for those kept.
const MAX_TAG_BYTES: usize = 4 << 10;
const MAX_RUNNER_ID_BYTES: usize = 1 << 10;

/// Shrink the record of a sandbox that has just finished. File contents
/// always go (the files were written into the workspace, which is gone); a
/// record still over [`MAX_FINISHED_RECORD`] keeps only what identifies
/// it, its state and its tags.
pub fn shrink_finished(sb: &mut pb::Sandbox) {
    if let Some(spec) = &mut sb.spec {
        for c in &mut spec.containers {
            for f in &mut c.files {
                f.content = Vec::new();
            }
        }
    }
    if let Some(status) = &mut sb.status {
        clip_in_place(&mut status.state_reason, MAX_REASON);
    }
    if sb.encoded_len() > MAX_FINISHED_RECORD {
        *sb = essentials(std::mem::take(sb));
    }
}

fn short(s: &str) -> String {
    clip(s, MAX_TEXT).into_owned()
}

/// Whole strings of at most `MAX_TEXT` bytes each, in order, while they fit
/// in `budget` bytes.
fn bounded(list: Vec<String>, budget: usize) -> Vec<String> {
    let mut used = 0;
    list.into_iter()
        .filter(|s| s.len() <= MAX_TEXT)
        .take_while(|s| {
            used += s.len();
            used <= budget
        })
        .collect()
}

fn essentials(sb: pb::Sandbox) -> pb::Sandbox {
    let spec = sb.spec.unwrap_or_default();
    let containers = spec
        .containers
        .into_iter()
        .take(1)
        .map(|c| pb::Container {
            name: short(&c.name),
            image: short(&c.image),
            command: short(&c.command),
            working_dir: short(&c.working_dir),
            primary: c.primary,
            ..Default::default()
        })
        .collect();
    let spec = pb::SandboxSpec {
        containers,
        max_lifetime_seconds: spec.max_lifetime_seconds,
        tags: bounded(spec.tags, MAX_TAG_BYTES),
        runner_ids: bounded(spec.runner_ids, MAX_RUNNER_ID_BYTES),
        mode: spec.mode,
        runtime_class: short(&spec.runtime_class),
        ..Default::default()
    };
    let status = sb.status.map(|s| pb::SandboxStatus {
        state: s.state,
        state_reason: s.state_reason,
        create_time: s.create_time,
        start_time: s.start_time,
        end_time: s.end_time,
        exit_code: s.exit_code,
        effective_max_lifetime_seconds: s.effective_max_lifetime_seconds,
        container_statuses: s
            .container_statuses
            .into_iter()
            .take(1)
            .map(|c| pb::ContainerStatus {
                name: short(&c.name),
                ..c
            })
            .collect(),
        runner_id: short(&s.runner_id),
        runner_group_id: short(&s.runner_group_id),
        effective_runtime_class: short(&s.effective_runtime_class),
        ..Default::default()
    });
    pb::Sandbox {
        sandbox_id: sb.sandbox_id,
        spec: Some(spec),
        status,
        display_name: short(&sb.display_name),
        control: sb.control,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(container: pb::Container) -> pb::Sandbox {
        pb::Sandbox {
            sandbox_id: "id-1".into(),
            spec: Some(pb::SandboxSpec {
                containers: vec![container],
                tags: vec!["a".into(), "b".into()],
                ..Default::default()
            }),
            status: Some(pb::SandboxStatus {
                state: pb::State::Completed as i32,
                exit_code: Some(3),
                state_reason: "r".repeat(100_000),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn file_contents_go_and_the_rest_stays() {
        let c = pb::Container {
            name: "main".into(),
            environment_variables: [("K".to_string(), "V".to_string())].into(),
            files: vec![pb::FileMount {
                path: "/a".into(),
                content: vec![7; 5 << 20],
            }],
            ..Default::default()
        };
        let mut sb = record(c);
        shrink_finished(&mut sb);
        let spec = sb.spec.as_ref().unwrap();
        let c = &spec.containers[0];
        assert_eq!(c.files[0].path, "/a");
        assert!(c.files[0].content.is_empty());
        assert_eq!(c.environment_variables["K"], "V");
        assert_eq!(spec.tags, ["a", "b"]);
        let status = sb.status.as_ref().unwrap();
        assert!(status.state_reason.len() < MAX_REASON + 32);
        assert_eq!(status.exit_code, Some(3));
    }

    #[test]
    fn a_huge_record_keeps_its_essentials_within_the_bound() {
        let big = "x".repeat(1 << 20);
        let c = pb::Container {
            name: big.clone(),
            image: big.clone(),
            command: big.clone(),
            args: vec![big.clone(); 4],
            environment_variables: [("K".to_string(), big.clone())].into(),
            ..Default::default()
        };
        let mut sb = record(c);
        let spec = sb.spec.as_mut().unwrap();
        spec.tags.extend((0..100_000).map(|i| format!("tag-{i}")));
        spec.tags.push(big.clone());
        spec.annotations.insert("k".into(), big.clone());
        sb.display_name = big;
        shrink_finished(&mut sb);
        assert!(
            sb.encoded_len() <= MAX_FINISHED_RECORD,
            "{}",
            sb.encoded_len()
        );
        assert_eq!(sb.sandbox_id, "id-1");
        let spec = sb.spec.as_ref().unwrap();
        assert_eq!(&spec.tags[..3], ["a", "b", "tag-0"]);
        assert!(spec.tags.iter().all(|t| t.len() <= MAX_TEXT));
        assert!(spec.containers[0].name.starts_with("xxx"));
        let status = sb.status.as_ref().unwrap();
        assert_eq!(status.state, pb::State::Completed as i32);
        assert_eq!(status.exit_code, Some(3));
    }
}
