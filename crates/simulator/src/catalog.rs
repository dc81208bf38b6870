//! Static facts of the simulated cloud: major versions, regions, machine types. Values are
//! plausible rather than current; what matters is that they are consistent with each other.

use crdb_cloud::models::{
    CloudProvider, CloudProviderRegion, ClusterMajorVersion, ReleaseType, SupportStatus,
};

pub struct VersionInfo {
    pub major: &'static str,
    /// The full version a cluster of this major runs.
    pub full: &'static str,
    pub support: SupportStatus,
    pub support_end: &'static str,
    pub release: ReleaseType,
    pub allowed_upgrades: &'static [&'static str],
}

/// Sorted newest first, as the real list is.
static VERSIONS: &[VersionInfo] = &[
    VersionInfo {
        major: "v25.2",
        full: "v25.2.4",
        support: SupportStatus::Supported,
        support_end: "2026-11-12T00:00:00Z",
        release: ReleaseType::Regular,
        allowed_upgrades: &[],
    },
    VersionInfo {
        major: "v25.1",
        full: "v25.1.8",
        support: SupportStatus::Supported,
        support_end: "2025-11-18T00:00:00Z",
        release: ReleaseType::Innovation,
        allowed_upgrades: &["v25.2"],
    },
    VersionInfo {
        major: "v24.3",
        full: "v24.3.14",
        support: SupportStatus::Supported,
        support_end: "2026-05-18T00:00:00Z",
        release: ReleaseType::Regular,
        allowed_upgrades: &["v25.1", "v25.2"],
    },
    VersionInfo {
        major: "v24.1",
        full: "v24.1.18",
        support: SupportStatus::Supported,
        support_end: "2025-11-19T00:00:00Z",
        release: ReleaseType::Regular,
        allowed_upgrades: &["v24.3"],
    },
    VersionInfo {
        major: "v23.2",
        full: "v23.2.28",
        support: SupportStatus::Unsupported,
        support_end: "2025-02-05T00:00:00Z",
        release: ReleaseType::Regular,
        allowed_upgrades: &["v24.1"],
    },
];

pub const LATEST_MAJOR: &str = "v25.2";

pub fn version(major: &str) -> Option<&'static VersionInfo> {
    VERSIONS.iter().find(|v| v.major == major)
}

/// The major (`vX.Y`) of a full or major version string.
pub fn major_of(version: &str) -> String {
    version.split('.').take(2).collect::<Vec<_>>().join(".")
}

pub fn versions() -> Vec<ClusterMajorVersion> {
    VERSIONS
        .iter()
        .map(|v| ClusterMajorVersion {
            version: v.major.to_string(),
            support_status: v.support.clone(),
            support_end: v.support_end.to_string(),
            release_type: v.release.clone(),
            allowed_upgrades: v.allowed_upgrades.iter().map(|s| s.to_string()).collect(),
        })
        .collect()
}

pub struct RegionInfo {
    pub provider: CloudProvider,
    pub name: &'static str,
    pub location: &'static str,
    /// Serverless (BASIC/STANDARD) clusters can be placed here.
    pub serverless: bool,
    /// Miles from the (imaginary) caller; the real list is sorted by it.
    pub distance: f32,
}

macro_rules! region {
    ($p:ident, $name:literal, $loc:literal, $sl:literal, $d:literal) => {
        RegionInfo { provider: CloudProvider::$p, name: $name, location: $loc, serverless: $sl, distance: $d }
    };
}

static REGIONS: &[RegionInfo] = &[
    region!(Gcp, "us-central1", "Iowa", true, 512.3),
    region!(Gcp, "us-east1", "South Carolina", true, 640.8),
    region!(Gcp, "us-east4", "N. Virginia", false, 301.2),
    region!(Gcp, "us-west2", "California", true, 2201.5),
    region!(Gcp, "europe-west1", "Belgium", true, 3915.0),
    region!(Gcp, "europe-west3", "Frankfurt", false, 4120.4),
    region!(Gcp, "asia-southeast1", "Singapore", true, 9410.7),
    region!(Aws, "us-east-1", "N. Virginia", true, 290.6),
    region!(Aws, "us-east-2", "Ohio", true, 402.9),
    region!(Aws, "us-west-2", "Oregon", true, 2402.1),
    region!(Aws, "eu-central-1", "Frankfurt", true, 4130.2),
    region!(Aws, "eu-west-1", "Ireland", true, 3290.5),
    region!(Aws, "ap-southeast-1", "Singapore", true, 9422.3),
    region!(Azure, "eastus2", "Virginia", true, 305.4),
    region!(Azure, "westus2", "Washington", false, 2350.0),
    region!(Azure, "westeurope", "Netherlands", true, 3650.1),
];

pub fn region(provider: &CloudProvider, name: &str) -> Option<&'static RegionInfo> {
    REGIONS.iter().find(|r| &r.provider == provider && r.name == name)
}

/// Regions of one provider (or all), serverless-capable only when asked, sorted by distance.
pub fn available_regions(provider: Option<&CloudProvider>, serverless_only: bool) -> Vec<CloudProviderRegion> {
    let mut regions: Vec<CloudProviderRegion> = REGIONS
        .iter()
        .filter(|r| provider.is_none_or(|p| &r.provider == p))
        .filter(|r| !serverless_only || r.serverless)
        .map(|r| CloudProviderRegion {
            name: r.name.to_string(),
            location: r.location.to_string(),
            provider: r.provider.clone(),
            serverless: r.serverless,
            distance: r.distance,
        })
        .collect();
    regions.sort_by(|a, b| a.distance.total_cmp(&b.distance).then_with(|| a.name.cmp(&b.name)));
    regions
}

/// vCPU counts offered for dedicated clusters.
pub const VCPU_OPTIONS: &[i32] = &[2, 4, 8, 16, 32];

/// Memory per vCPU of every machine family here.
pub const MEMORY_GIB_PER_VCPU: i32 = 4;

/// The smallest storage offered; `storage_gib: 0` means "the smallest available".
pub const MIN_STORAGE_GIB: i32 = 15;

/// The machine type of `vcpus` on `provider` (GCP n2-standard, AWS m6i, Azure Dv5).
pub fn machine_type(provider: &CloudProvider, vcpus: i32) -> String {
    match provider {
        CloudProvider::Aws => format!("m6i.{}", aws_size(vcpus)),
        CloudProvider::Azure => format!("Standard_D{vcpus}ds_v5"),
        _ => format!("n2-standard-{vcpus}"),
    }
}

fn aws_size(vcpus: i32) -> String {
    match vcpus {
        2 => "large".into(),
        4 => "xlarge".into(),
        n => format!("{}xlarge", n / 4),
    }
}

/// The vCPU count of a machine type this catalog offers on `provider`.
pub fn vcpus_of_machine_type(provider: &CloudProvider, machine_type: &str) -> Option<i32> {
    VCPU_OPTIONS.iter().copied().find(|&v| self::machine_type(provider, v) == machine_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_types_round_trip() {
        for p in [CloudProvider::Gcp, CloudProvider::Aws, CloudProvider::Azure] {
            for &v in VCPU_OPTIONS {
                assert_eq!(vcpus_of_machine_type(&p, &machine_type(&p, v)), Some(v));
            }
        }
        assert_eq!(machine_type(&CloudProvider::Aws, 8), "m6i.2xlarge");
        assert_eq!(vcpus_of_machine_type(&CloudProvider::Gcp, "m6i.large"), None);
    }

    #[test]
    fn versions_are_newest_first_and_upgrades_exist() {
        let list = versions();
        assert_eq!(list[0].version, LATEST_MAJOR);
        for v in &list {
            for target in &v.allowed_upgrades {
                assert!(version(target).is_some(), "{target}");
            }
        }
        assert_eq!(major_of("v24.3.14"), "v24.3");
        assert_eq!(major_of("v24.3"), "v24.3");
    }

    #[test]
    fn regions_filter_and_sort() {
        let gcp = available_regions(Some(&CloudProvider::Gcp), true);
        assert!(gcp.iter().all(|r| r.provider == CloudProvider::Gcp && r.serverless));
        assert!(gcp.windows(2).all(|w| w[0].distance <= w[1].distance));
        assert!(!gcp.iter().any(|r| r.name == "us-east4"));
    }
}
