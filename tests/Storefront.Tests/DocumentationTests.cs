using System.Text.RegularExpressions;
using Pipeline.Inventory.Commit;
using Pipeline.Testing;

namespace Pipeline.Storefront.Tests;

/// <summary>The storefront documentation agrees with the repository: the permission regexes it shows are those of
/// deploy/rabbitmq/definitions.json, the order-id limit it states is the validator's, and every relative link resolves to a
/// file or folder of the repository.</summary>
public sealed partial class DocumentationTests
{
    [Theory]
    [InlineData("storefront")]
    [InlineData("pipeline")]
    public void The_documented_permissions_are_those_of_the_definitions(string user)
    {
        var permissions = RepositoryFiles.PermissionsOf(user);
        var rows = PermissionRow().Matches(RepositoryFiles.Read(RepositoryFiles.StorefrontDoc)).Where(m => m.Groups["user"].Value == user).ToList();

        Assert.True(rows.Count > 0, $"{RepositoryFiles.StorefrontDoc} has no rabbitmqctl set_permissions line for {user}");
        Assert.All(rows, row => Assert.Equal(permissions, new Pipeline.Testing.RabbitMqPermissions(row.Groups["configure"].Value, row.Groups["write"].Value, row.Groups["read"].Value)));
    }

    /// <summary>The documents can only restate <see cref="OrderValidation.IsUsableId"/>'s length limit, so it is checked here.</summary>
    [Theory]
    [InlineData(RepositoryFiles.StorefrontDoc)]
    [InlineData("src/Contracts/README.md")]
    [InlineData("src/Contracts/OrderMessages.cs")]
    [InlineData("docs/ARCHITECTURE.md")]
    public void The_documented_order_id_limit_is_the_validators(string document) =>
        Assert.Contains($"1 to {OrderValidation.MaxIdLength} characters", RepositoryFiles.Read(document), StringComparison.Ordinal);

    [Theory]
    [InlineData(RepositoryFiles.StorefrontDoc)]
    [InlineData("samples/Storefront/README.md")]
    public void Every_relative_link_resolves_inside_the_repository(string document)
    {
        var folder = Path.GetDirectoryName(RepositoryFiles.PathOf(document))!;
        var broken = Link().Matches(RepositoryFiles.Read(document))
            .Select(m => m.Groups["target"].Value)
            .Where(t => !t.Contains("://", StringComparison.Ordinal) && !t.StartsWith('#') && !t.StartsWith("mailto:", StringComparison.Ordinal))
            .Select(t => t.Split('#')[0])
            .Where(t => Path.GetFullPath(Path.Combine(folder, t)) is var full && (!full.StartsWith(RepositoryRoot.Folder, StringComparison.Ordinal) || !(File.Exists(full) || Directory.Exists(full))))
            .ToList();

        Assert.True(broken.Count == 0, $"{document}: links that do not resolve inside the repository: {string.Join(", ", broken)}");
    }

    /// <summary>A command line <c>[scripts/services] rabbitmqctl set_permissions -p / USER 'configure' 'write' 'read'</c>.</summary>
    [GeneratedRegex(@"^(?:scripts/services )?rabbitmqctl set_permissions -p \S+ (?<user>[a-z]+) '(?<configure>[^']+)' '(?<write>[^']+)' '(?<read>[^']+)'$", RegexOptions.Multiline)]
    private static partial Regex PermissionRow();

    /// <summary>A Markdown link or image: <c>[text](target)</c>.</summary>
    [GeneratedRegex(@"\]\((?<target>[^)\s]+)\)")]
    private static partial Regex Link();
}
