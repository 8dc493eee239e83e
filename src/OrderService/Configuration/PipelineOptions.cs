using System.ComponentModel.DataAnnotations;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Recipes;

namespace Pipeline.OrderService.Configuration;

/// <summary>Section "Pipeline": who this replica is and how it batches. Scaled replicas need none of it set.</summary>
public sealed class PipelineOptions
{
    public const string Section = "Pipeline";

    /// <summary>Defaults to host name plus process id, unique per replica without per-replica configuration.</summary>
    public string NodeId { get; set; } = $"{Environment.MachineName}-{Environment.ProcessId}";

    [Range(1, 1000)]
    public int CommitBatchSize { get; set; } = 100;

    /// <summary>How long the leader waits to fill a commit transaction once it has an order for it. Under load the orders that
    /// arrive while a transaction runs fill the next one anyway; at half the maximum rate a longer wait only added latency
    /// (quick runs: p99 89 ms at 5 ms, 125 to 203 ms at 20 ms; bench/README.md, "pipeline").</summary>
    public TimeSpan CommitBatchTimeLimit { get; set; } = TimeSpan.FromMilliseconds(5);

    /// <summary>Orders per intake batch at most: recorded in one round trip, forwarded to the leader as one command.</summary>
    [Range(1, 1000)]
    public int IntakeBatchSize { get; set; } = 100;

    /// <summary>How long an intake batch waits to fill from its first order (the latency an order pays when the queue is quiet).
    /// Longer batches cost less CPU per order: at half the maximum rate on two cores, 25 ms gave a lower p99 than 10 ms (the
    /// machine saturated with smaller batches) and than 40 ms (the wait itself); bench/README.md, "pipeline".</summary>
    public TimeSpan IntakeBatchTimeLimit { get; set; } = TimeSpan.FromMilliseconds(25);

    /// <summary>Intake batches handled at once per replica.</summary>
    [Range(1, 64)]
    public int IntakeBatchConcurrency { get; set; } = 4;

    [Range(0, 65535)]
    public int HttpPort { get; set; } = 8080;

    /// <summary>Declare order-intake and inventory-commit as quorum queues (replicated on a RabbitMQ cluster).</summary>
    public bool QuorumQueues { get; set; }

    /// <summary>How long a graceful shutdown may take before the host gives up waiting.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>How long the commit endpoint may take to stop once leadership ended (its deliveries go back to the queue);
    /// past it the endpoint's channels are closed, so the broker returns whatever it still holds to the next leader.</summary>
    public TimeSpan CommitEndpointStopTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long commands may wait in the commit queue with none reaching the leader's idle endpoint before it is
    /// reconnected (an endpoint left faulted by a broker restart); the broker is asked every third of it.</summary>
    public TimeSpan CommitStallLimit { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>An order still undecided this long after it was recorded is decided by the leader's re-drive, whatever
    /// happened to its CommitInventory message.</summary>
    public TimeSpan RedriveAge { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How often the leader looks for such orders.</summary>
    public TimeSpan RedriveInterval { get; set; } = TimeSpan.FromSeconds(15);
}

/// <summary>Section "ZooKeeper": the ensemble and the election.</summary>
public sealed class ZooKeeperOptions
{
    public const string Section = "ZooKeeper";

    [Required(ErrorMessage = "ZooKeeper:ConnectString is required (host:port[,host:port][/chroot]).")]
    public string ConnectString { get; set; } = "127.0.0.1:2181";

    public TimeSpan SessionTimeout { get; set; } = TimeSpan.FromSeconds(6);

    [Required]
    public string ElectionPath { get; set; } = "/pipeline/election/inventory-commit";

    /// <summary>The service's digest identity: the election path is readable by anyone, writable only by it. Required unless
    /// <see cref="AllowOpenElectionPath"/>.</summary>
    public string? DigestUser { get; set; }

    public string? DigestPassword { get; set; }

    /// <summary>Run without an identity, on an election path anyone who reaches ZooKeeper can write (and so block or delete
    /// every candidate's node). Off by default; an explicit choice for a trusted, isolated ensemble.</summary>
    public bool AllowOpenElectionPath { get; set; }

    /// <summary>Why these settings cannot run the election, or null.</summary>
    public string? IdentityProblem() => (string.IsNullOrEmpty(DigestUser), string.IsNullOrEmpty(DigestPassword)) switch
    {
        (true, _) when AllowOpenElectionPath => null,
        (true, _) => "ZooKeeper:DigestUser and ZooKeeper:DigestPassword are required: the election path is created writable only by that " +
                     "identity (set ZooKeeper:AllowOpenElectionPath=true to run on a path anyone can write)",
        (false, true) => "ZooKeeper:DigestPassword is required with ZooKeeper:DigestUser",
        _ => DigestUser!.Contains(':', StringComparison.Ordinal) ? "ZooKeeper:DigestUser must not contain ':'" : null,
    };

    /// <summary>The service's ZooKeeper identity, when one is configured.</summary>
    public DigestCredential? Credential => string.IsNullOrEmpty(DigestUser) ? null : new DigestCredential(DigestUser, DigestPassword ?? "");

    /// <summary>A plain client of this ensemble with this service's identity (the CLI's reads).</summary>
    public ZooKeeperClientOptions ToClientOptions()
    {
        var options = new ZooKeeperClientOptions { ConnectString = ConnectString, SessionTimeout = SessionTimeout };
        if (Credential is { } credential)
        {
            options.Credentials.Add(credential);
        }

        return options;
    }

    /// <summary>The election candidate of replica <paramref name="nodeId"/>, with this service's identity.</summary>
    public ElectionCandidateOptions ToCandidateOptions(string nodeId, ILoggerFactory loggerFactory) => new()
    {
        ConnectString = ConnectString,
        SessionTimeout = SessionTimeout,
        ElectionPath = ElectionPath,
        NodeId = nodeId,
        Version = typeof(ZooKeeperOptions).Assembly.GetName().Version?.ToString() ?? "0",
        LoggerFactory = loggerFactory,
        Credential = Credential,
    };
}

/// <summary>Section "RabbitMq".</summary>
public sealed class RabbitMqOptions
{
    public const string Section = "RabbitMq";

    [Required(ErrorMessage = "RabbitMq:Host is required.")]
    public string Host { get; set; } = "127.0.0.1";

    [Range(1, 65535)]
    public int Port { get; set; } = 5672;

    public string VirtualHost { get; set; } = "/";

    [Required(ErrorMessage = "RabbitMq:Username is required.")]
    public string Username { get; set; } = "guest";

    [Required(ErrorMessage = "RabbitMq:Password is required.")]
    public string Password { get; set; } = "guest";

    /// <summary>Connect with TLS (an <c>amqps://</c> URI sets it; the default port is then 5671). The server certificate
    /// must be valid for <see cref="Host"/>.</summary>
    public bool UseTls { get; set; }

    /// <summary>The AMQP heartbeat the bus requests; null keeps MassTransit's default. The broker drops a silent connection
    /// after about two heartbeats, and only then requeues what a frozen replica holds.</summary>
    public TimeSpan? Heartbeat { get; set; }

    /// <summary>Reads an AMQP URI (amqp://user:pass@host:port/vhost, or amqps:// for TLS), as PIPELINE_RABBITMQ carries it.</summary>
    public void ApplyUri(Uri uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        UseTls = uri.Scheme == "amqps";
        Host = uri.Host;
        Port = uri.IsDefaultPort || uri.Port <= 0 ? (UseTls ? 5671 : 5672) : uri.Port;
        var path = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        VirtualHost = path.Length == 0 ? "/" : path;
        if (uri.UserInfo.Length > 0)
        {
            var parts = uri.UserInfo.Split(':', 2);
            Username = Uri.UnescapeDataString(parts[0]);
            Password = parts.Length > 1 ? Uri.UnescapeDataString(parts[1]) : "";
        }
    }
}
