using System.Net;
using System.Security.Cryptography;
using System.Text.Json;

namespace Pipeline.Testing;

/// <summary>A RabbitMQ permission set on one virtual host: the configure, write and read regular expressions.</summary>
public sealed record RabbitMqPermissions(string Configure, string Write, string Read);

/// <summary>
/// A RabbitMQ user of a test's own (<c>{virtual host}_{role}</c>, random password, no tags) with exactly the given permissions
/// on that test's virtual host, created and deleted through the management API. Users are broker-wide, so a later run
/// deletes the users a crashed run left behind, as it does for virtual hosts.
/// </summary>
public sealed class RabbitMqUser : IAsyncDisposable
{
    private static readonly SemaphoreSlim CleanupGate = new(1, 1);
    private static bool cleanedOrphans;
    private readonly HttpClient http;

    private RabbitMqUser(HttpClient http, string name, Uri amqpUri)
    {
        this.http = http;
        Name = name;
        AmqpUri = amqpUri;
    }

    public string Name { get; }

    /// <summary>AMQP URI of the virtual host with this user's credentials.</summary>
    public Uri AmqpUri { get; }

    public static async Task<RabbitMqUser> CreateAsync(RabbitMqVirtualHost virtualHost, string role, RabbitMqPermissions permissions)
    {
        ArgumentNullException.ThrowIfNull(virtualHost);
        ArgumentNullException.ThrowIfNull(permissions);
        var services = await TestServices.GetAsync().ConfigureAwait(false);
        var http = RabbitMqVirtualHost.CreateManagementClient(services.RabbitMqManagement);
        try
        {
            await RemoveOrphansOnceAsync(http).ConfigureAwait(false);
            var name = $"{virtualHost.Name}_{role}";
            var password = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
            using (var created = await http.PutAsync(UserPath(name), RabbitMqVirtualHost.Json(JsonSerializer.Serialize(new { password, tags = "" }))).ConfigureAwait(false))
            {
                await RabbitMqVirtualHost.EnsureSuccessAsync(created, $"create user {name}").ConfigureAwait(false);
            }

            var body = JsonSerializer.Serialize(new { configure = permissions.Configure, write = permissions.Write, read = permissions.Read });
            using (var granted = await http.PutAsync($"api/permissions/{Uri.EscapeDataString(virtualHost.Name)}/{Uri.EscapeDataString(name)}", RabbitMqVirtualHost.Json(body)).ConfigureAwait(false))
            {
                await RabbitMqVirtualHost.EnsureSuccessAsync(granted, $"grant {name} on {virtualHost.Name}").ConfigureAwait(false);
            }

            var uri = new UriBuilder(virtualHost.AmqpUri) { UserName = Uri.EscapeDataString(name), Password = password }.Uri;
            return new RabbitMqUser(http, name, uri);
        }
        catch
        {
            http.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        using (var deleted = await http.DeleteAsync(UserPath(Name)).ConfigureAwait(false))
        {
            if (deleted.StatusCode != HttpStatusCode.NotFound)
            {
                await RabbitMqVirtualHost.EnsureSuccessAsync(deleted, $"delete user {Name}").ConfigureAwait(false);
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

            using var response = await http.GetAsync("api/users").ConfigureAwait(false);
            await RabbitMqVirtualHost.EnsureSuccessAsync(response, "list users").ConfigureAwait(false);
            using var users = JsonDocument.Parse(await response.Content.ReadAsStringAsync().ConfigureAwait(false));
            foreach (var name in users.RootElement.EnumerateArray().Select(u => u.GetProperty("name").GetString()!).Where(TestResourceNames.IsOrphan))
            {
                using var _ = await http.DeleteAsync(UserPath(name)).ConfigureAwait(false);
            }

            cleanedOrphans = true;
        }
        finally
        {
            CleanupGate.Release();
        }
    }

    private static string UserPath(string name) => "api/users/" + Uri.EscapeDataString(name);
}
