//! `siemfwd --version` says the commit it was built from: `0.1.0 (5bbdf0a)`, with `+dirty`
//! when the tree had changes. Without git (a source tarball), the version alone.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn main() {
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/index");
    let version = env!("CARGO_PKG_VERSION");
    if let Some(commit) = git(&["rev-parse", "--short=7", "HEAD"]) {
        let dirty =
            git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
        let suffix = if dirty { "+dirty" } else { "" };
        println!("cargo:rustc-env=SIEMFWD_VERSION={version} ({commit}{suffix})");
    }
}
