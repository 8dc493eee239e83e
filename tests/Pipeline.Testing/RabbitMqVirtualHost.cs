using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Xunit;

namespace Pipeline.Testing;

/// <summary>
/// A RabbitMQ virtual host of its own for one test class: exchanges and queues of parallel tests never meet.
/// Created and deleted through the management API (an AMQP user cannot create virtual hosts).
/// </summary>
public sealed class RabbitMqVirtualHost : IAsyncLifetime
{
    private static readonly SemaphoreSlim CleanupGate = new(1, 1);
    private static bool cleanedOrphans;
    private HttpClient? http;

    /// <summary>The virtual host's name (<c>pt_{pid}_{random}</c>).</summary>
    public string Name { get; } = TestResourceNames.New();

    /// <summary>AMQP URI of the virtual host, with the test credentials.</summary>
    public Uri AmqpUri { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var services = await TestServices.GetAsync().ConfigureAwait(false);
        http = CreateManagementClient(services.RabbitMqManagement);
        await RemoveOrphansOnceAsync(http).ConfigureAwait(false);

        using (var created = await http.PutAsync(VhostPath(Name), Json("{}")).ConfigureAwait(false))
        {
            await EnsureSuccessAsync(created, $"create virtual host {Name}").ConfigureAwait(false);
        }

        var user = Uri.UnescapeDataString(services.RabbitMq.UserInfo.Split(':')[0]);
        using (var granted = await http.PutAsync($"api/permissions/{Uri.EscapeDataString(Name)}/{Uri.EscapeDataString(user)}",
                   Json("""{"configure":".*","write":".*","read":".*"}""")).ConfigureAwait(false))
        {
            await EnsureSuccessAsync(granted, $"grant {user} on {Name}").ConfigureAwait(false);
        }

        AmqpUri = new UriBuilder(services.RabbitMq) { Path = "/" + Uri.EscapeDataString(Name) }.Uri;
    }

    /// <summary><paramref name="queue"/> has nothing ready, then a quiet second for what its consumers hold in flight.</summary>
    public async Task WaitDrainedAsync(string queue, TimeSpan timeout)
    {
        var factory = new RabbitMQ.Client.ConnectionFactory { Uri = AmqpUri };
        await using var connection = await factory.CreateConnectionAsync().ConfigureAwait(false);
        await using var channel = await connection.CreateChannelAsync().ConfigureAwait(false);
        await Eventually.TrueAsync(async () => (await channel.QueueDeclarePassiveAsync(queue).ConfigureAwait(false)).MessageCount == 0,
            timeout, $"{queue} to be empty").ConfigureAwait(false);
        await Task.Delay(TimeSpan.FromSeconds(1)).ConfigureAwait(false); // in-flight deliveries settle, a duration of the scenario
    }

    /// <summary>Messages published into this virtual host so far, as the management API counts them (message_stats.publish;
    /// the broker refreshes it every few seconds).</summary>
    public async Task<long> PublishedAsync()
    {
        var client = http ?? throw new InvalidOperationException("The virtual host is not initialized.");
        using var response = await client.GetAsync(VhostPath(Name)).ConfigureAwait(false);
        await EnsureSuccessAsync(response, $"read virtual host {Name}").ConfigureAwait(false);
        using var document = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync().ConfigureAwait(false));
        return document.RootElement.TryGetProperty("message_stats", out var stats) && stats.TryGetProperty("publish", out var published) ? published.GetInt64() : 0;
    }

    public async Task DisposeAsync()
    {
        if (http is null)
        {
            return;
        }

        using (var deleted = await http.DeleteAsync(VhostPath(Name)).ConfigureAwait(false))
        {
            if (deleted.StatusCode != HttpStatusCode.NotFound)
            {
                await EnsureSuccessAsync(deleted, $"delete virtual host {Name}").ConfigureAwait(false);
            }
        }

        http.Dispose();
    }

    private static async Task RemoveOrphansOnceAsync(HttpClient http)
    {
        await CleanupGate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (cleanedOrphans)
            {
                return;
            }

            using var response = await http.GetAsync("api/vhosts?columns=name").ConfigureAwait(false);
            await EnsureSuccessAsync(response, "list virtual hosts").ConfigureAwait(false);
            using var doc = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync().ConfigureAwait(false));
            foreach (var name in doc.RootElement.EnumerateArray().Select(e => e.GetProperty("name").GetString()!).Where(TestResourceNames.IsOrphan))
            {
                using var _ = await http.DeleteAsync(VhostPath(name)).ConfigureAwait(false);
            }

            cleanedOrphans = true;
        }
        finally
        {
            CleanupGate.Release();
        }
    }

    /// <summary>An HTTP client on the management API with its credentials.</summary>
    internal static HttpClient CreateManagementClient(Uri management)
    {
        var client = new HttpClient { BaseAddress = new UriBuilder(management) { UserName = "", Password = "", Path = "/" }.Uri, Timeout = TimeSpan.FromSeconds(30) };
        var credentials = Uri.UnescapeDataString(management.UserInfo);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials)));
        return client;
    }

    private static string VhostPath(string name) => "api/vhosts/" + Uri.EscapeDataString(name);

    internal static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    internal static async Task EnsureSuccessAsync(HttpResponseMessage response, string what)
    {
        if (!response.IsSuccessStatusCode)
        {
            var body = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
            throw new InvalidOperationException($"RabbitMQ management API could not {what}: {(int)response.StatusCode} {body}");
        }
    }
}
