//! The collector as a container: `scripts/image` builds the image `FROM scratch`
//! from the static binary, and it runs as the README says, with the Docker socket
//! and `/var/lib/docker/containers` mounted read-only, the index in a named volume
//! and the port published on the host's loopback only. A line a container writes
//! must come back through the published port, read from its json-file log on disk.
//!
//! Its own test binary: building the image is slow, and no other test needs it.

use serde_json::Value;
use wakeline_e2e::image::{ImageCollector, collector_image};
use wakeline_e2e::{ContainerSpec, DEADLINE, poll, query, unique};

#[test]
fn the_image_serves_the_lines_of_other_containers_on_the_published_port() {
    let image = collector_image();
    let collector = ImageCollector::start(&image, "image");

    let line = format!("{}-hello-from-emit", unique("image"));
    let step = format!("out:{line}");
    let emit = ContainerSpec::new("image-emit", &[step.as_str()]).run();

    let search = format!(
        "/api/search?{}",
        query(&[("q", &format!("\"{line}\"")), ("container", &emit.name)])
    );
    let hits = poll(DEADLINE, || {
        let body = collector.try_get(&search)?.json;
        let hits = body["hits"].as_array()?.clone();
        (!hits.is_empty()).then_some(hits)
    })
    .unwrap_or_else(|| {
        panic!(
            "the containerized collector never found {line:?} on port {}; its output:\n{}",
            collector.port,
            collector.logs()
        )
    });
    assert_eq!(hits.len(), 1, "one line written, one record: {hits:#?}");
    let record = &hits[0];
    assert_eq!(record["container"], emit.name.as_str(), "{record:#}");
    assert_eq!(record["container_id"], emit.id.as_str(), "{record:#}");
    assert_eq!(record["message"], line.as_str(), "{record:#}");
    assert_eq!(record["stream"], "stdout", "{record:#}");

    // The mounted log folder works: the line was read from the json-file log on
    // disk, not through the API.
    let containers = collector.get("/api/containers");
    let entry = containers["containers"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["id"] == emit.id.as_str()))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(entry["read_from"], "file", "{containers:#}");
}
