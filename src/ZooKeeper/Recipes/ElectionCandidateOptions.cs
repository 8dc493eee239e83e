using Microsoft.Extensions.Logging;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.ZooKeeper.Recipes;

/// <summary>Settings of an <see cref="ElectionCandidate"/>; checked by <see cref="Validate"/> when the candidate is created.</summary>
public sealed class ElectionCandidateOptions
{
    /// <summary>"host:port,host:port[/chroot]". Required.</summary>
    public string ConnectString { get; set; } = "";

    public TimeSpan SessionTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The election's persistent parent; created when missing, never deleted by a candidate.</summary>
    public string ElectionPath { get; set; } = "/pipeline/election/inventory-commit";

    /// <summary>Who we are, in leases, node info and logs. Required.</summary>
    public string NodeId { get; set; } = "";

    /// <summary>Version string written into our node info.</summary>
    public string Version { get; set; } = "0";

    /// <summary>Digest identity of the service: with it, the election path and our nodes are created readable by anyone
    /// but writable only by this identity. Without it they are open.</summary>
    public DigestCredential? Credential { get; set; }

    /// <summary>The first pause after a failed attempt (ZooKeeper unreachable, an error from the server, an unexpected
    /// error); each further failure in a row doubles it, up to <see cref="MaxRetryDelay"/>, with jitter.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest pause between attempts while the candidate is <see cref="ElectionState.Failed"/>.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The leader's crash signal (<see cref="ILeaderCrashSignal"/>): held while leading, waited on while standing
    /// by, so a crashed leader is succeeded in milliseconds. Null: succession waits for the session to expire.</summary>
    public ILeaderCrashSignal? CrashSignal { get; set; }

    /// <summary>Where to log; nothing when null.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(NodeId))
        {
            throw new ArgumentException("Election NodeId is required.", nameof(NodeId));
        }

        try
        {
            PathRules.Validate(ElectionPath);
        }
        catch (ArgumentException ex)
        {
            throw new ArgumentException($"Election ElectionPath '{ElectionPath}' is invalid: {ex.Message}", nameof(ElectionPath), ex);
        }

        if (ElectionPath == "/")
        {
            throw new ArgumentException("Election ElectionPath must not be the root.", nameof(ElectionPath));
        }

        if (RetryDelay < TimeSpan.Zero)
        {
            throw new ArgumentException("Election RetryDelay must not be negative.", nameof(RetryDelay));
        }

        if (MaxRetryDelay < RetryDelay)
        {
            throw new ArgumentException($"Election MaxRetryDelay ({MaxRetryDelay}) must not be shorter than RetryDelay ({RetryDelay}).", nameof(MaxRetryDelay));
        }

        ClientOptions().Validate();
    }

    internal ZooKeeperClientOptions ClientOptions()
    {
        var options = new ZooKeeperClientOptions
        {
            ConnectString = ConnectString,
            SessionTimeout = SessionTimeout,
            RequestTimeout = SessionTimeout,
            LoggerFactory = LoggerFactory,
        };
        if (Credential is not null)
        {
            options.Credentials.Add(Credential);
        }

        return options;
    }

    /// <summary>The ACL of the election path and of our nodes: anyone reads; only our identity writes, when we have one.</summary>
    internal IReadOnlyList<Acl> NodeAcl() => Credential is null
        ? Acl.OpenUnsafe
        : [new Acl(Permissions.Read, Id.Anyone), new Acl(Permissions.All, Id.Digest(Credential.User, Credential.Password))];
}
