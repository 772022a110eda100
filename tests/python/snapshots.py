"""File-system snapshots through the real client.

Covers: a scratch volume at /workspace, snapshot() of a running sandbox and
restore into a new one (contents, symlinks, ownership), snapshot-on-stop and
the id the stop reports, get/list/delete by id, the errors of unknown and
malformed ids, special files left out with a reason, and a symlink to a host
file that the snapshot copies as a symlink and never follows.
"""

from harness import case, eq, finish, ok, raises, require_env

from cwsandbox import (
    FileSystemSnapshotOptions,
    FileSystemSnapshotStatus,
    FileSystemSnapshotTrigger,
    Sandbox,
    ScratchVolumeOptions,
    SnapshotNotFoundError,
)

require_env()

WORKSPACE = FileSystemSnapshotOptions(mount_path="/workspace")


def sh(sb, script):
    return sb.exec(["sh", "-c", script], check=True).result().stdout


def restored_workspace(snapshot_id):
    return Sandbox.run(
        file_system_snapshot=FileSystemSnapshotOptions(
            mount_path="/workspace", file_system_snapshot_id=snapshot_id
        )
    )


state = {}


@case("snapshot() of /workspace is READY and restores into a new sandbox")
def _():
    with Sandbox.run(file_system_snapshot=WORKSPACE) as sb:
        sh(
            sb,
            "cd /workspace && echo before > note.txt && mkdir -p deep/er && "
            "printf 12345 > deep/er/five && chmod 640 deep/er/five && ln -s note.txt link",
        )
        snapshot_id = sb.snapshot().result()
        state["manual"] = snapshot_id
        state["manual_source"] = sb.sandbox_id
        # Written after the snapshot: must not be in it.
        sh(sb, "echo after > /workspace/later.txt")
    snap = Sandbox.get_snapshot(snapshot_id).result()
    eq(snap.status, FileSystemSnapshotStatus.READY, "status")
    eq(snap.trigger, FileSystemSnapshotTrigger.MANUAL, "trigger")
    eq(snap.source_sandbox_id, state["manual_source"], "source_sandbox_id")
    eq(snap.source_volume_name, "workspace", "source_volume_name")
    eq(snap.size_bytes, len("before\n") + 5, "size_bytes")
    ok(snap.created_at is not None and snap.completed_at is not None, "timestamps")
    with restored_workspace(snapshot_id) as sb:
        eq(sh(sb, "cat /workspace/note.txt"), "before\n", "restored file")
        eq(sh(sb, "cat /workspace/deep/er/five"), "12345", "nested file")
        eq(sh(sb, "stat -c %a /workspace/deep/er/five"), "640\n", "mode kept")
        eq(sh(sb, "readlink /workspace/link"), "note.txt\n", "symlink kept as a symlink")
        eq(sh(sb, "test -e /workspace/later.txt && echo yes || echo no"), "no\n", "later file")
        # The new sandbox owns its copy: root inside, writable.
        eq(sh(sb, "stat -c %u:%g /workspace/note.txt /workspace"), "0:0\n0:0\n", "owner")
        sh(sb, "echo more >> /workspace/note.txt && touch /workspace/new")
        eq(sh(sb, "pwd"), "/workspace\n", "the volume is the working directory")


@case("snapshot_on_stop: the stop reports the id, the snapshot restores")
def _():
    volume = ScratchVolumeOptions(name="data", mount_path="/data")
    sb = Sandbox.run(volumes=[volume])
    sh(sb, "echo kept > /data/f && mkdir /data/d")
    sb.stop(snapshot_on_stop=True).result()
    snapshot_id = sb.file_system_snapshot_id
    ok(snapshot_id, f"stop reported no snapshot id ({snapshot_id!r})")
    state["on_stop"] = snapshot_id
    snap = Sandbox.get_snapshot(snapshot_id).result()
    eq(snap.status, FileSystemSnapshotStatus.READY, "status")
    eq(snap.trigger, FileSystemSnapshotTrigger.ON_DELETE, "trigger")
    eq(snap.source_volume_name, "data", "source_volume_name")
    eq(snap.source_sandbox_id, sb.sandbox_id, "source_sandbox_id")
    restore = ScratchVolumeOptions(
        name="data", mount_path="/data", restore_from_snapshot_id=snapshot_id
    )
    with Sandbox.run(volumes=[restore]) as sb2:
        eq(sh(sb2, "cat /data/f; test -d /data/d && echo dir"), "kept\ndir\n", "restored")


@case("list_snapshots finds them by sandbox and status")
def _():
    everything = Sandbox.list_snapshots().result()
    ids = {s.file_system_snapshot_id for s in everything}
    ok({state["manual"], state["on_stop"]} <= ids, f"{ids}")
    mine = Sandbox.list_snapshots(source_sandbox_id=state["manual_source"]).result()
    eq([s.file_system_snapshot_id for s in mine], [state["manual"]], "by sandbox")
    ready = Sandbox.list_snapshots(status=FileSystemSnapshotStatus.READY).result()
    ok(state["manual"] in {s.file_system_snapshot_id for s in ready}, "by status")


@case("delete_snapshot removes it; later uses are SnapshotNotFoundError")
def _():
    snapshot_id = state["on_stop"]
    Sandbox.delete_snapshot(snapshot_id).result()
    raises(SnapshotNotFoundError, lambda: Sandbox.get_snapshot(snapshot_id).result())
    raises(SnapshotNotFoundError, lambda: Sandbox.delete_snapshot(snapshot_id).result())
    Sandbox.delete_snapshot(snapshot_id, missing_ok=True).result()
    ids = {s.file_system_snapshot_id for s in Sandbox.list_snapshots().result()}
    ok(snapshot_id not in ids, "still listed")
    # Sandboxes restored from it are unaffected; new ones are refused.
    raises(SnapshotNotFoundError, lambda: restored_workspace(snapshot_id))


@case("unknown and malformed snapshot ids: SnapshotNotFoundError")
def _():
    for bad in ["fss-0123456789abcdef0123456789abcdef", "../../etc/passwd", "", "x" * 5000]:
        raises(SnapshotNotFoundError, lambda bad=bad: Sandbox.get_snapshot(bad).result())
    raises(SnapshotNotFoundError, lambda: restored_workspace("fss-" + "0" * 32))
    raises(SnapshotNotFoundError, lambda: restored_workspace("../snapshots"))


@case("a sandbox without volumes snapshots its default workspace")
def _():
    with Sandbox.run() as sb:
        sh(sb, "echo plain > /workspace/p")
        snapshot_id = sb.snapshot().result()
    with restored_workspace(snapshot_id) as sb:
        eq(sh(sb, "cat /workspace/p"), "plain\n", "restored")
    Sandbox.delete_snapshot(snapshot_id).result()


@case("attack: a symlink to a host file is copied as a symlink, never followed")
def _():
    with Sandbox.run(file_system_snapshot=WORKSPACE) as sb:
        sh(
            sb,
            "cd /workspace && ln -s /etc/shadow shadow && ln -s / hostroot && "
            "ln -s ../../../../../../etc/passwd up && mkfifo pipe && echo x > x",
        )
        snapshot_id = sb.snapshot().result()
    snap = Sandbox.get_snapshot(snapshot_id).result()
    eq(snap.status, FileSystemSnapshotStatus.READY, "status")
    # Only the one regular file's 2 bytes were read.
    eq(snap.size_bytes, 2, "size_bytes")
    ok("/pipe (FIFO)" in snap.status_reason, f"reason {snap.status_reason!r}")
    with restored_workspace(snapshot_id) as sb:
        out = sh(
            sb,
            "cd /workspace; for f in shadow hostroot up; do "
            "test -L $f && echo $f=$(readlink $f); done; test -e pipe || echo no-pipe",
        )
        eq(
            out,
            "shadow=/etc/shadow\nhostroot=/\nup=../../../../../../etc/passwd\nno-pipe\n",
            "links",
        )
    Sandbox.delete_snapshot(snapshot_id).result()
    Sandbox.delete_snapshot(state["manual"]).result()


finish()
