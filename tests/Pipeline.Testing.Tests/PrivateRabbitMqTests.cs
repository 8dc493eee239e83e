using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using MassTransit;
using RabbitMQ.Client;
using Xunit.Abstractions;

namespace Pipeline.Testing.Tests;

/// <summary>
/// The private RabbitMQ node the fault suite restarts under load: durable data survives a graceful restart and a kill,
/// a MassTransit bus reconnects by itself, and dispose leaves no process behind. Tests of this class share one node and
/// run one after another, so each restart only disturbs its own test.
/// </summary>
public sealed class PrivateRabbitMqTests(PrivateRabbitMq broker, ITestOutputHelper output) : IClassFixture<PrivateRabbitMq>
{
    private static readonly TimeSpan Bounded = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_persistent_message_in_a_durable_queue_survives_a_restart(bool kill)
    {
        var queue = kill ? "survives-kill" : "survives-restart";
        var body = Encoding.UTF8.GetBytes("persistent " + Guid.NewGuid());
        await using (var connection = await ConnectAsync())
        await using (var channel = await connection.CreateChannelAsync())
        {
            await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false);
        }

        if (kill)
        {
            // A queue's declaration is not promised to be on disk when declare-ok arrives (the broker's metadata store
            // writes behind), so SIGKILL right after it may take the queue along. A graceful restart puts it on disk; what
            // is asserted after the kill is what a confirm promises: the confirmed message in that durable queue survives.
            await broker.RestartAsync();
        }

        await using (var connection = await ConnectAsync())
        await using (var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true)))
        {
            // Confirmed means written to the message store, so even SIGKILL right after must not lose it.
            await channel.BasicPublishAsync("", queue, mandatory: true, new BasicProperties { Persistent = true, MessageId = queue }, body);
        }

        var pid = broker.ProcessId;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        if (kill)
        {
            await broker.KillAsync();
            await broker.StartAsync();
        }
        else
        {
            await broker.RestartAsync();
        }

        output.WriteLine($"{(kill ? "kill -9 + start" : "graceful restart")}: {clock.Elapsed.TotalSeconds:0.00} s in all, ready {broker.LastStartDuration.TotalSeconds:0.00} s after start");
        Assert.NotEqual(pid, broker.ProcessId);
        await using var after = await ConnectAsync();
        await using var reader = await after.CreateChannelAsync();
        var got = await Eventually.GetAsync(() => reader.BasicGetAsync(queue, autoAck: true), TimeSpan.FromSeconds(10), $"the persistent message on queue {queue} after the restart");
        Assert.Equal(body, got.Body.ToArray());
        Assert.Equal(queue, got.BasicProperties.MessageId);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_bus_connected_before_a_restart_publishes_and_consumes_again_after_it(bool kill)
    {
        var received = new ConcurrentDictionary<Guid, bool>();
        var bus = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            var user = broker.AmqpUri.UserInfo.Split(':', 2);
            cfg.Host(broker.AmqpUri.Host, (ushort)broker.AmqpUri.Port, "/", h =>
            {
                h.Username(user[0]);
                h.Password(user[1]);
                h.PublisherConfirmation = true;
            });
            cfg.ReceiveEndpoint(kill ? "probe-kill" : "probe-restart", e => e.Handler<PrivateRabbitMqProbe>(c =>
            {
                received[c.Message.Id] = true;
                return Task.CompletedTask;
            }));
        });
        using (var start = new CancellationTokenSource(Bounded))
        {
            await bus.StartAsync(start.Token);
        }

        try
        {
            await Eventually.TrueAsync(() => Task.FromResult(bus.CheckHealth().Status == BusHealthStatus.Healthy), Bounded, "the bus to be healthy");
            await PublishAndReceiveAsync(bus, received, "before the restart");

            if (kill)
            {
                await broker.KillAsync();
                await broker.StartAsync();
            }
            else
            {
                await broker.RestartAsync();
            }

            var clock = System.Diagnostics.Stopwatch.StartNew();
            await PublishAndReceiveAsync(bus, received, $"after the {(kill ? "kill and start" : "restart")}");
            output.WriteLine($"node ready {broker.LastStartDuration.TotalSeconds:0.00} s after start; bus published and consumed again {clock.Elapsed.TotalSeconds:0.00} s after that");
        }
        finally
        {
            using var stop = new CancellationTokenSource(Bounded);
            await bus.StopAsync(stop.Token);
        }
    }

    [Fact]
    public async Task Dispose_leaves_no_process_and_no_directory_behind()
    {
        var node = new PrivateRabbitMq();
        int pid;
        try
        {
            await node.InitializeAsync();
            output.WriteLine($"first start: ready {node.LastStartDuration.TotalSeconds:0.00} s after start");
            pid = node.ProcessId;
            // The VM carries the node's directory on its command line (the node name goes as -sname, without the host).
            Assert.Contains(node.BaseDirectory, CommandLine(pid), StringComparison.Ordinal);
        }
        finally
        {
            await node.DisposeAsync();
        }

        Assert.False(IsOurs(pid, node.BaseDirectory), $"beam {pid} of {node.NodeName} still runs after dispose");
        var leftovers = ProcessesMentioning(node.BaseDirectory);
        Assert.True(leftovers.Count == 0, $"processes still mention the node's directory after dispose: {string.Join(", ", leftovers)}");
        Assert.False(Directory.Exists(node.BaseDirectory), "the node's directory still exists after dispose");
        using var client = new TcpClient();
        await Assert.ThrowsAnyAsync<SocketException>(() => client.ConnectAsync("127.0.0.1", node.Port));
    }

    private Task<IConnection> ConnectAsync() =>
        Eventually.GetAsync<IConnection>(async () => await new ConnectionFactory { Uri = broker.AmqpUri, AutomaticRecoveryEnabled = false }.CreateConnectionAsync(), Bounded,
            $"a connection to the private node {broker.NodeName}; log: {broker.LogFile}");

    private static async Task PublishAndReceiveAsync(IBus bus, ConcurrentDictionary<Guid, bool> received, string when)
    {
        // A fresh probe per attempt, each given a few seconds to arrive: a publish confirmed while the endpoint is still
        // re-binding its queue after the broker came back is routed nowhere (a binding the broker had not written to disk
        // before a kill -9 is gone until the endpoint declares it again), so one confirmed publish proves nothing yet.
        await Eventually.TrueAsync(async () =>
        {
            var id = Guid.NewGuid();
            using (var attempt = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
            {
                await bus.Publish(new PrivateRabbitMqProbe(id), attempt.Token);
            }

            var waited = System.Diagnostics.Stopwatch.StartNew();
            while (!received.ContainsKey(id) && waited.Elapsed < TimeSpan.FromSeconds(5))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50));
            }

            return received.ContainsKey(id);
        }, TimeSpan.FromSeconds(60), $"a probe published {when} to be consumed", TimeSpan.FromMilliseconds(200));
    }

    private static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText(string.Create(CultureInfo.InvariantCulture, $"/proc/{pid}/cmdline")).Replace('\0', ' ');
        }
        catch (IOException)
        {
            return "";
        }
    }

    /// <summary>Still running as our node (a reused pid of another process does not count; a zombie is not running).</summary>
    private static bool IsOurs(int pid, string nodeDirectory)
    {
        var stat = File.Exists($"/proc/{pid}/stat") ? File.ReadAllText($"/proc/{pid}/stat") : "";
        return stat.Length > 0 && !stat[stat.LastIndexOf(')')..].StartsWith(") Z", StringComparison.Ordinal) && CommandLine(pid).Contains(nodeDirectory, StringComparison.Ordinal);
    }

    private static List<string> ProcessesMentioning(string text) =>
    [
        .. Directory.EnumerateDirectories("/proc")
            .Select(Path.GetFileName)
            .Where(n => int.TryParse(n, NumberStyles.None, CultureInfo.InvariantCulture, out _))
            .Select(n => (Pid: n!, Line: CommandLine(int.Parse(n!, CultureInfo.InvariantCulture))))
            .Where(p => p.Line.Contains(text, StringComparison.Ordinal))
            .Select(p => $"{p.Pid}: {p.Line[..Math.Min(120, p.Line.Length)]}"),
    ];
}

public sealed record PrivateRabbitMqProbe(Guid Id);
