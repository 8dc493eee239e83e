namespace Pipeline.Testing;

/// <summary>Where the real services of a test run are.</summary>
/// <param name="ZooKeeper">Connect string without chroot, e.g. <c>127.0.0.1:2181</c> or an ensemble list.</param>
/// <param name="RabbitMq">AMQP URI of the broker's default virtual host, with credentials.</param>
/// <param name="RabbitMqManagement">HTTP URI of the management API, with credentials (used to create virtual hosts).</param>
/// <param name="Postgres">Npgsql connection string of a role that may create databases.</param>
/// <param name="Source">How the services were found, for messages.</param>
public sealed record ServiceEndpoints(string ZooKeeper, Uri RabbitMq, Uri RabbitMqManagement, string Postgres, string Source)
{
    /// <summary>The ZooKeeper servers of the connect string, one "host:port" each.</summary>
    public IReadOnlyList<string> ZooKeeperServers => ZooKeeper.Split('/', 2)[0].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
