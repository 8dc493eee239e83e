using System.Text.Json;
using Pipeline.Testing;

namespace Pipeline.Storefront.Tests;

/// <summary>Files of the repository the tests check against: the permission set, the documentation.</summary>
internal static class RepositoryFiles
{
    public const string Definitions = "deploy/rabbitmq/definitions.json";
    public const string StorefrontDoc = "docs/STOREFRONT.md";

    public static string PathOf(string relative) => RepositoryRoot.PathOf(relative);

    public static string Read(string relative) => File.ReadAllText(PathOf(relative));

    /// <summary>The permissions <paramref name="user"/> has in <see cref="Definitions"/> (the one place they are set).</summary>
    public static RabbitMqPermissions PermissionsOf(string user)
    {
        using var definitions = JsonDocument.Parse(Read(Definitions));
        var entry = definitions.RootElement.GetProperty("permissions").EnumerateArray()
            .Single(p => p.GetProperty("user").GetString() == user && p.GetProperty("vhost").GetString() == "/");
        return new RabbitMqPermissions(entry.GetProperty("configure").GetString()!, entry.GetProperty("write").GetString()!, entry.GetProperty("read").GetString()!);
    }
}
