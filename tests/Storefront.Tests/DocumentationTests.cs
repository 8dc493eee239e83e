using System.Text.RegularExpressions;
using Pipeline.Inventory.Commit;
using Pipeline.Testing;

namespace Pipeline.Storefront.Tests;

/// <summary>The storefront documentation agrees with the repository: the permission regexes it shows are those of
/// deploy/rabbitmq/definitions.json, and the order-id limit it states is the validator's (its links are
/// checked with every other document's by Repository.Tests).</summary>
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

    /// <summary>A command line <c>[scripts/services] rabbitmqctl set_permissions -p / USER 'configure' 'write' 'read'</c>.</summary>
    [GeneratedRegex(@"^(?:scripts/services )?rabbitmqctl set_permissions -p \S+ (?<user>[a-z]+) '(?<configure>[^']+)' '(?<write>[^']+)' '(?<read>[^']+)'$", RegexOptions.Multiline)]
    private static partial Regex PermissionRow();

}
