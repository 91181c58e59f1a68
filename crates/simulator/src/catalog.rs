//! The value spaces of generated alerts: companies, users, devices, detections, processes,
//! files, URLs and registry keys, modelled on real MDE alerts (`examples/alerts/`).

pub(super) const COMPANIES: &[&str] = &[
    "contoso",
    "fabrikam",
    "northwind",
    "adatum",
    "tailspin",
    "woodgrove",
    "litware",
    "proseware",
    "wingtip",
    "fourthcoffee",
];
pub(super) const USERS: &[&str] = &[
    "jdoe",
    "asmith",
    "mgarcia",
    "rkumar",
    "lchen",
    "okoroma",
    "pnovak",
    "ssato",
    "edubois",
    "hmueller",
    "adm-tbauer",
    "svc_backup",
    "svc_deploy",
];
pub(super) const HOST_KINDS: &[(&str, &str)] = &[
    ("ws-fin", "Finance Workstations"),
    ("ws-hr", "HR Workstations"),
    ("ws-it", "IT Workstations"),
    ("lt-sales", "Sales Laptops"),
    ("srv-file", "Servers"),
    ("srv-sql", "Servers"),
    ("srv-dc", "Domain Controllers"),
];
pub(super) const ANALYSTS: &[&str] = &[
    "analyst1@mssp.example.net",
    "analyst2@mssp.example.net",
    "soc-lead@mssp.example.net",
    "Automation",
];
pub(super) const COMMENTS: &[&str] = &[
    "Host isolated by SOC, waiting for AIR to finish remediation.",
    "Contacted the user; they did not open the attachment.",
    "Escalated to customer IT, ticket INC-",
    "Benign: admin tooling used during the maintenance window.",
    "Manual AIR after user report; benign.",
    "Reopened: same hash seen on a second device.",
];

/// One kind of detection: what MDE would title, categorise and attach as evidence.
pub(super) struct Scenario {
    pub(super) title: &'static str,
    pub(super) category: &'static str,
    pub(super) source: &'static str,
    pub(super) detector: &'static str,
    pub(super) mitre: &'static [&'static str],
    pub(super) threat: Option<(&'static str, &'static str)>,
    pub(super) description: &'static str,
    pub(super) evidence: &'static [Kind],
    pub(super) process: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Process,
    User,
    Ip,
    Url,
    Registry,
}

pub(super) const ALL_KINDS: &[Kind] = &[
    Kind::File,
    Kind::Process,
    Kind::User,
    Kind::Ip,
    Kind::Url,
    Kind::Registry,
];

use Kind::{File, Ip, Process, Registry, Url, User as UserK};

pub(super) const SCENARIOS: &[Scenario] = &[
    Scenario {
        title: "Suspicious PowerShell command line",
        category: "Execution",
        source: "WindowsDefenderAtp",
        detector: "17e10bbc-3a68-474a-8aad-faef14d43952",
        mitre: &["T1059.001", "T1105", "T1027"],
        threat: None,
        description: "A suspicious PowerShell activity was observed on the machine. This behavior may indicate that PowerShell was used during installation, exploration, or in some cases in lateral movement activities.\n\nThe command line used an encoded command and a hidden window, which are common in malicious scripts.",
        evidence: &[UserK, Process, File],
        process: 0,
    },
    Scenario {
        title: "'Emotet' malware was detected",
        category: "Malware",
        source: "WindowsDefenderAv",
        detector: "4f2d7a7e-0c5b-4b8e-9f61-2d8e1c3b7a90",
        mitre: &["T1204.002", "T1566.001"],
        threat: Some(("Emotet", "Trojan:Win32/Emotet.PEE!MTB")),
        description: "Malware and unwanted software are undesirable applications that perform annoying, disruptive, or harmful actions on affected machines.\n\nThis detection might indicate that the malware was stopped from delivering its payload.",
        evidence: &[File, File, UserK],
        process: 1,
    },
    Scenario {
        title: "Mimikatz credential theft tool",
        category: "CredentialAccess",
        source: "WindowsDefenderAtp",
        detector: "a4ab7a3e-9a0c-4d5e-8d3b-1f0c2e9b6d11",
        mitre: &["T1003.001", "T1558.003"],
        threat: Some(("Mimikatz", "HackTool:Win32/Mimikatz.D")),
        description: "The Mimikatz credential theft tool was detected on this device.\nAttackers use it to dump credentials from memory (LSASS) and move laterally.",
        evidence: &[Process, File, UserK],
        process: 4,
    },
    Scenario {
        title: "[SOC-CD-017] Beacon to known C2 infrastructure",
        category: "CommandAndControl",
        source: "CustomDetection",
        detector: "c0ffee17-0000-4000-8000-000000000017",
        mitre: &["T1071.001", "T1105"],
        threat: None,
        description: "Custom detection SOC-CD-017 matched outbound connections to an address on the MSSP's C2 watch list.",
        evidence: &[Ip, Url, Process],
        process: 1,
    },
    Scenario {
        title: "Suspicious service creation on a remote device",
        category: "LateralMovement",
        source: "WindowsDefenderAtp",
        detector: "5b8c1d2e-3f4a-4b6c-9d7e-8f9012345678",
        mitre: &["T1021.002", "T1543.003", "T1569.002"],
        threat: None,
        description: "A service was created remotely on this device.\n\nAttackers create services on remote devices to run tools and move laterally.",
        evidence: &[Process, Registry, Ip, UserK],
        process: 7,
    },
    Scenario {
        title: "Suspicious access to LSASS service",
        category: "CredentialAccess",
        source: "WindowsDefenderAtp",
        detector: "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        mitre: &["T1003"],
        threat: None,
        description: "A process accessed the memory of the LSASS service, which holds credentials.",
        evidence: &[Process],
        process: 3,
    },
    Scenario {
        title: "Suspicious scheduled task",
        category: "Persistence",
        source: "WindowsDefenderAtp",
        detector: "2e3f4a5b-6c7d-4e8f-9a0b-1c2d3e4f5a6b",
        mitre: &["T1053.005"],
        threat: None,
        description: "A scheduled task was created to run a script from a user-writable folder every 30 minutes.",
        evidence: &[File, UserK, Process],
        process: 5,
    },
    Scenario {
        title: "'EICAR_Test_File' malware was prevented",
        category: "Malware",
        source: "WindowsDefenderAv",
        detector: "0f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f",
        mitre: &[],
        threat: Some(("EICAR_Test_File", "Virus:DOS/EICAR_Test_File")),
        description: "The EICAR test file was detected. It is harmless and used to test antivirus products.",
        evidence: &[File],
        process: 2,
    },
    Scenario {
        title: "Ransomware behavior detected in the file system",
        category: "Ransomware",
        source: "WindowsDefenderAtp",
        detector: "9d8c7b6a-5f4e-4d3c-a2b1-0f9e8d7c6b5a",
        mitre: &["T1486", "T1490"],
        threat: Some(("Ryuk", "Ransom:Win32/Ryuk.PA!MTB")),
        description: "A process encrypted many files and deleted volume shadow copies.\n\nRansom notes were written to user folders.\nIsolate the device and investigate.",
        evidence: &[Process, File, File, UserK],
        process: 6,
    },
    Scenario {
        title: "Suspicious Run key persistence",
        category: "Persistence",
        source: "WindowsDefenderAtp",
        detector: "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f",
        mitre: &["T1547.001"],
        threat: None,
        description: "A Run key was added so that a file from AppData starts at every logon.",
        evidence: &[Registry, File],
        process: 2,
    },
    Scenario {
        title: "Connection to a custom network indicator",
        category: "SuspiciousActivity",
        source: "CustomerTI",
        detector: "6e7f8a9b-0c1d-4e2f-a3b4-c5d6e7f8a9b0",
        mitre: &[],
        threat: None,
        description: "A connection was made to a URL on the organisation's indicator list.",
        evidence: &[Url, Ip],
        process: 8,
    },
    Scenario {
        title: "Anomalous account lookups",
        category: "Discovery",
        source: "MTP",
        detector: "8a9b0c1d-2e3f-4a5b-9c6d-7e8f9a0b1c2d",
        mitre: &["T1087.002", "T1069.002"],
        threat: None,
        description: "An unusual number of account and group lookups was made against the domain controller.",
        evidence: &[Process, UserK],
        process: 2,
    },
    Scenario {
        title: "Phishing link opened in the browser",
        category: "InitialAccess",
        source: "WindowsDefenderSmartScreen",
        detector: "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
        mitre: &["T1566.002"],
        threat: None,
        description: "The user opened a link that SmartScreen reports as phishing.",
        evidence: &[Url, Process, UserK],
        process: 8,
    },
];

/// (file name, folder, command line); `{u}` is the user name.
pub(super) const PROCESSES: &[(&str, &str, &str)] = &[
    (
        "powershell.exe",
        r"C:\Windows\System32\WindowsPowerShell\v1.0",
        "powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA",
    ),
    (
        "rundll32.exe",
        r"C:\Windows\System32",
        r#"rundll32.exe "C:\Users\{u}\AppData\Roaming\svc.dll",DllRegisterServer"#,
    ),
    (
        "cmd.exe",
        r"C:\Windows\System32",
        r#"cmd.exe /c "whoami /all & net group "Domain Admins" /domain""#,
    ),
    (
        "procdump64.exe",
        r"C:\Tools\Sysinternals",
        r"procdump64.exe -accepteula -ma lsass.exe C:\Windows\Temp\ls.dmp",
    ),
    (
        "m64.exe",
        r"C:\ProgramData\Intel\Logs",
        r#"m64.exe "privilege::debug" "sekurlsa::logonpasswords" exit"#,
    ),
    (
        "schtasks.exe",
        r"C:\Windows\System32",
        r#"schtasks.exe /create /tn "Updater" /tr "wscript.exe C:\Users\Public\Libraries\updchk.vbs" /sc minute /mo 30"#,
    ),
    (
        "vssadmin.exe",
        r"C:\Windows\System32",
        "vssadmin.exe delete shadows /all /quiet",
    ),
    (
        "radmin.exe",
        r"C:\Program Files\RemoteAdmin",
        r#""C:\Program Files\RemoteAdmin\radmin.exe" --target=\\srv-file-03 --flag="a=b""#,
    ),
    (
        "msedge.exe",
        r"C:\Program Files (x86)\Microsoft\Edge\Application",
        r#""msedge.exe" --single-argument https://login-portal.example.net/owa/auth.aspx?u=1&r=2"#,
    ),
];
pub(super) const PARENTS: &[(&str, &str)] = &[
    ("explorer.exe", r"C:\Windows"),
    (
        "WINWORD.EXE",
        r"C:\Program Files\Microsoft Office\root\Office16",
    ),
    ("cmd.exe", r"C:\Windows\System32"),
    ("services.exe", r"C:\Windows\System32"),
    ("svchost.exe", r"C:\Windows\System32"),
];
pub(super) const FILES: &[(&str, &str)] = &[
    ("update.ps1", r"C:\Users\{u}\AppData\Local\Temp"),
    ("Invoice_2026-11-21.doc", r"C:\Users\{u}\Downloads"),
    ("xbzkq.dll", r"C:\Users\{u}\AppData\Local\Xbzkq"),
    ("eicar.com.txt", r"C:\Users\{u}\Downloads"),
    ("updchk.vbs", r"C:\Users\Public\Libraries"),
    ("README_RESTORE_FILES.txt", r"C:\Users\{u}\Documents"),
    ("svc.dll", r"C:\Users\{u}\AppData\Roaming"),
];
pub(super) const URLS: &[&str] = &[
    "http://malicious.example.com/payload?a=1&b=2",
    "https://login-portal.example.net/owa/auth.aspx?u=1&r=2",
    "http://203.0.113.45:8080/gate.php",
    "https://files.example.org/share/invoice.zip",
];
pub(super) const REGISTRY: &[(&str, &str, &str, &str)] = &[
    (
        r"SOFTWARE\Microsoft\Windows\CurrentVersion\Run",
        "HKEY_CURRENT_USER",
        "String",
        r#""C:\Users\{u}\AppData\Roaming\svc.exe" -k"#,
    ),
    (
        r"SYSTEM\CurrentControlSet\Services\RAdmSvc",
        "HKEY_LOCAL_MACHINE",
        "ExpandString",
        r#""C:\Program Files\RemoteAdmin\radmin.exe" --service"#,
    ),
];
