using Pipeline.Inventory.Commit;
using Pipeline.Inventory.Model;
using Pipeline.Inventory.Status;
using Pipeline.Testing;
using static Pipeline.Inventory.Tests.Commit.CommitTestKit;

namespace Pipeline.Inventory.Tests.Status;

/// <summary>The status verb's database read: orders counted per status, every fence row with its token and holder.</summary>
public sealed class InventoryStatusReaderTests(InventoryDatabaseFixture db) : IClassFixture<InventoryDatabaseFixture>
{
    [Fact]
    public async Task Orders_are_counted_per_status_and_every_fence_row_is_listed()
    {
        await SeedAsync(db, 1, "ST-A");
        await ReceiveAsync(db, Order("st-1", ("ST-A", 1)), Order("st-2", ("ST-A", 1)), Order("st-3", ("ST-A", 1)));
        var committer = await CommitterAsync(db);
        await committer.CommitAsync(new FenceToken(3, 4), "node-st", [Order("st-1", ("ST-A", 1)), Order("st-2", ("ST-A", 1))]);

        var status = await new InventoryStatusReader(db.DataSource).ReadAsync();

        // st-1 took the only unit, st-2 found none left, st-3 was never committed.
        Assert.Equal(
            new[] { (OrderStatus.Confirmed, 1L), (OrderStatus.Received, 1L), (OrderStatus.Rejected, 1L) },
            status.OrdersByStatus.Select(p => (p.Key, p.Value)));
        Assert.Contains(status.Fences, f => f.Resource == FenceResources.InventoryCommit);
        Assert.Contains(status.Fences, f => f.Token == new FenceToken(3, 4) && f.Holder == "node-st");
    }
}
