//! The host-side login hook (`host/tourniquet-taint`), run as `pam_exec` runs it, against a
//! loopback IMDSv2 stand-in and the emulator, with the real AWS CLI (installed by `make test`
//! into the directory named by `TOURNIQUET_HOST_TOOLS`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tourniquet_tests::Account;
use tourniquet_tests::ec2::{launch, tags_of};

const TOKEN: &str = "AQAEAtourniquet-test-token";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the repository")
        .to_path_buf()
}

/// The directory with the AWS CLI the hook calls; `make test` installs it.
fn tools() -> String {
    std::env::var("TOURNIQUET_HOST_TOOLS").expect(
        "TOURNIQUET_HOST_TOOLS names the AWS CLI's directory; run the tests with `make test`",
    )
}

/// What the IMDS stand-in saw.
#[derive(Default)]
struct Seen {
    requests: usize,
    /// Reads without a session token: IMDSv1.
    without_token: usize,
}

/// An IMDSv2 stand-in on loopback for one instance: a token on `PUT /latest/api/token`, then
/// metadata only with that token.
fn imds(instance: String) -> (String, Arc<Mutex<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind IMDS");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            answer(stream, &instance, &record);
        }
    });
    (url, seen)
}

fn answer(mut stream: TcpStream, instance: &str, seen: &Mutex<Seen>) {
    let mut buf = [0u8; 4096];
    let n = stream.read(&mut buf).unwrap_or(0);
    let request = String::from_utf8_lossy(&buf[..n]).to_string();
    let lower = request.to_ascii_lowercase();
    let first = request.lines().next().unwrap_or("").to_owned();
    let token_ok = lower.contains(&format!(
        "x-aws-ec2-metadata-token: {}",
        TOKEN.to_ascii_lowercase()
    ));
    let (status, body) = {
        let mut s = seen.lock().expect("seen");
        s.requests += 1;
        if first.starts_with("PUT /latest/api/token")
            && lower.contains("x-aws-ec2-metadata-token-ttl-seconds:")
        {
            ("200 OK", TOKEN.to_owned())
        } else if !token_ok {
            s.without_token += 1;
            ("401 Unauthorized", String::new())
        } else if first.starts_with("GET /latest/meta-data/instance-id ") {
            ("200 OK", instance.to_owned())
        } else if first.starts_with("GET /latest/meta-data/placement/region ") {
            ("200 OK", tourniquet_tests::REGION.to_owned())
        } else {
            ("404 Not Found", String::new())
        }
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// Runs the hook as pam_exec does for an SSH session opening; returns its exit code and how
/// long the login waited for it.
fn login(imds_url: &str, user: &str, skip_file: &str) -> (Option<i32>, Duration) {
    let started = Instant::now();
    let status = Command::new(root().join("host/tourniquet-taint"))
        .env("PAM_TYPE", "open_session")
        .env("PAM_SERVICE", "sshd")
        .env("PAM_USER", user)
        .env("PAM_RHOST", "203.0.113.9")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds_url)
        .env("TOURNIQUET_SKIP_USERS_FILE", skip_file)
        .env(
            "PATH",
            format!("{}:{}", tools(), std::env::var("PATH").unwrap_or_default()),
        )
        .status()
        .expect("run the hook");
    (status.code(), started.elapsed())
}

async fn tag_after(account: &Account, instance: &str, within: Duration) -> Option<String> {
    let until = Instant::now() + within;
    loop {
        if let Some(v) = tags_of(&account.sdk, instance).await.get("Tainted") {
            return Some(v.clone());
        }
        if Instant::now() > until {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn skip_file(users: &[&str]) -> tempfile_path::TempPath {
    tempfile_path::TempPath::with(&format!("# break-glass\n{}\n", users.join("\n")))
}

#[tokio::test]
async fn a_login_taints_its_own_instance_and_no_other() {
    let account = Account::new().await;
    let instances = launch(&account.sdk, 2, &[]).await;
    let (url, seen) = imds(instances[0].clone());
    let skip = skip_file(&["automation"]);

    let (code, waited) = login(&url, "mallory", skip.path());
    assert_eq!(code, Some(0));
    assert!(
        waited < Duration::from_secs(2),
        "the login waited {waited:?}"
    );
    let value = tag_after(&account, &instances[0], Duration::from_secs(20))
        .await
        .expect("the instance tags itself Tainted");
    assert!(
        value.contains("mallory") && value.contains("203.0.113.9"),
        "{value}"
    );
    assert!(
        !tags_of(&account.sdk, &instances[1])
            .await
            .contains_key("Tainted"),
        "no other instance is tagged"
    );
    let s = seen.lock().expect("seen");
    assert!(
        s.requests >= 3,
        "token, instance id, region: {}",
        s.requests
    );
    assert_eq!(s.without_token, 0, "IMDSv1 is never used");
}

#[tokio::test]
async fn a_listed_user_does_not_count() {
    let account = Account::new().await;
    let instances = launch(&account.sdk, 1, &[]).await;
    let (url, seen) = imds(instances[0].clone());
    let skip = skip_file(&["automation", "breakglass"]);
    let (code, _) = login(&url, "breakglass", skip.path());
    assert_eq!(code, Some(0));
    // The decision is taken before anything runs in the background: nothing will follow.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(seen.lock().expect("seen").requests, 0);
    assert!(
        !tags_of(&account.sdk, &instances[0])
            .await
            .contains_key("Tainted")
    );
}

#[tokio::test]
async fn with_instance_metadata_down_the_login_is_not_held() {
    let account = Account::new().await;
    let instances = launch(&account.sdk, 1, &[]).await;
    // Accepts connections and never answers: the worst IMDS there is.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let skip = skip_file(&[]);
    let (code, waited) = login(&url, "mallory", skip.path());
    assert_eq!(code, Some(0));
    assert!(
        waited < Duration::from_secs(2),
        "the login waited {waited:?}"
    );
    assert!(
        tag_after(&account, &instances[0], Duration::from_secs(3))
            .await
            .is_none()
    );
}

#[test]
fn the_installer_adds_the_pam_line_once_and_keeps_the_skip_list() {
    let dest = tempfile_path::TempPath::dir();
    // sshd's stack as a distribution ships it, its last line without a newline.
    std::fs::create_dir_all(format!("{}/etc/pam.d", dest.path())).expect("pam.d");
    std::fs::write(
        format!("{}/etc/pam.d/sshd", dest.path()),
        "auth include system-remote-login\nsession include system-remote-login",
    )
    .expect("sshd stack");
    for _ in 0..2 {
        let status = Command::new(root().join("host/install.sh"))
            .args(["--skip-user", "breakglass"])
            .env("DESTDIR", dest.path())
            .status()
            .expect("run the installer");
        assert!(status.success());
    }
    let pam = std::fs::read_to_string(format!("{}/etc/pam.d/sshd", dest.path())).expect("pam");
    let line = "session optional pam_exec.so quiet /usr/local/sbin/tourniquet-taint";
    assert_eq!(pam.lines().filter(|l| *l == line).count(), 1, "{pam}");
    assert!(
        pam.contains("session include system-remote-login\n"),
        "the last line is kept whole: {pam}"
    );
    let skip = std::fs::read_to_string(format!("{}/etc/tourniquet/skip-users", dest.path()))
        .expect("skip");
    assert_eq!(
        skip.lines().filter(|l| *l == "breakglass").count(),
        1,
        "{skip}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(format!("{}/usr/local/sbin/tourniquet-taint", dest.path()))
        .expect("hook")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
}

/// Temporary files and directories, removed when dropped.
mod tempfile_path {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static NEXT: AtomicUsize = AtomicUsize::new(0);

    pub struct TempPath(PathBuf);

    impl TempPath {
        fn fresh() -> PathBuf {
            std::env::temp_dir().join(format!(
                "tourniquet-host-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::SeqCst)
            ))
        }
        pub fn with(content: &str) -> Self {
            let path = Self::fresh();
            std::fs::write(&path, content).expect("write a temporary file");
            Self(path)
        }
        pub fn dir() -> Self {
            let path = Self::fresh();
            std::fs::create_dir_all(&path).expect("make a temporary directory");
            Self(path)
        }
        pub fn path(&self) -> &str {
            self.0.to_str().expect("a UTF-8 temporary path")
        }
    }

    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

#[test]
fn the_installer_never_creates_an_sshd_stack() {
    let dest = tempfile_path::TempPath::dir();
    let status = Command::new(root().join("host/install.sh"))
        .env("DESTDIR", dest.path())
        .status()
        .expect("run the installer");
    assert!(!status.success(), "no sshd stack: the installer refuses");
    assert!(
        !std::path::Path::new(&format!("{}/etc/pam.d/sshd", dest.path())).exists(),
        "a stack with only the hook would deny every login"
    );
}
