using System.Globalization;
using Pipeline.Testing;

namespace Pipeline.Cluster.Tests;

/// <summary>One replica's link to one service: a <see cref="TcpProxy"/> per server of that service (three for the ZooKeeper
/// ensemble, one for RabbitMQ or Postgres), faulted and healed together, so the replica loses the whole service at once.</summary>
public sealed class Link(IReadOnlyList<TcpProxy> proxies) : IAsyncDisposable
{
    /// <summary>The proxies' endpoints, comma-separated ("127.0.0.1:port,..."): what the replica connects to.</summary>
    public string Endpoints => string.Join(',', proxies.Select(p => p.Endpoint));

    /// <summary>The first proxy's port (services with a single server).</summary>
    public int Port => int.Parse(proxies[0].Endpoint.Split(':')[1], CultureInfo.InvariantCulture);

    public static async Task<Link> StartAsync(IEnumerable<string> targets)
    {
        var proxies = new List<TcpProxy>();
        foreach (var target in targets)
        {
            proxies.Add(await TcpProxy.StartAsync(target));
        }

        return new Link(proxies);
    }

    /// <summary>Resets every connection and refuses new ones (the peer sees the service go away).</summary>
    public void Cut() => proxies.ToList().ForEach(p => p.Cut());

    /// <summary>Holds every byte with the sockets open (a partition: nothing tells the peer the service is gone).</summary>
    public void Pause() => proxies.ToList().ForEach(p => p.Pause());

    public void Heal() => proxies.ToList().ForEach(p => p.Heal());

    public async ValueTask DisposeAsync()
    {
        foreach (var proxy in proxies)
        {
            await proxy.DisposeAsync();
        }
    }
}

/// <summary>A replica's three links: to the ZooKeeper ensemble, to RabbitMQ and to Postgres.</summary>
public sealed record ReplicaLinks(Link ZooKeeper, Link RabbitMq, Link Postgres) : IAsyncDisposable
{
    public IEnumerable<Link> All => [ZooKeeper, RabbitMq, Postgres];

    public void HealAll()
    {
        foreach (var link in All)
        {
            link.Heal();
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var link in All)
        {
            await link.DisposeAsync();
        }
    }
}
