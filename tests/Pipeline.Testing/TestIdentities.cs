using Pipeline.ZooKeeper.Client;

namespace Pipeline.Testing;

/// <summary>
/// The least-privilege identities replicas run under in tests, as in production: the PostgreSQL service role (given only
/// what <c>migrate --grant-to</c> grants; provisioned by scripts/services and by <see cref="PrivatePostgres"/>) and the
/// ZooKeeper digest identity that owns the election path. Loopback test credentials, not secrets.
/// </summary>
public static class TestIdentities
{
    public const string ServiceRole = "pipeline_service";

    public const string ServiceRolePassword = "pipeline_service";

    /// <summary>The replicas' ZooKeeper identity; fixtures that clean up election paths authenticate as it too.</summary>
    public static DigestCredential ZooKeeper { get; } = new("pipeline-service", "pipeline-test-digest");
}
