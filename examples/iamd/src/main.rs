//! iamd: the iam server (work in progress).

fn main() {}
