"""The simulated receipt printer as a USB device, for pyusb and python-escpos's ``Usb`` class.

No USB device can be attached to a test machine, so this is a pyusb backend
(``usb.backend.IBackend``): it enumerates one printer-class device with a
bulk OUT endpoint 0x01 and a bulk IN endpoint 0x82 (as python-escpos expects),
hands what is written to the OUT endpoint to a :class:`SimulatedPrinter` and
answers reads of the IN endpoint with its real-time replies.  pyusb's core
(find, configuration, interface claiming, endpoint lookup, transfers) and
python-escpos's ``Usb`` run unchanged on top; libusb, the kernel's usblp
driver and udev permissions are not exercised.
"""
from __future__ import annotations

import array
import threading
from types import SimpleNamespace

import usb.backend
import usb.core
import usb.util

OUT_EP, IN_EP = 0x01, 0x82
PRINTER_CLASS = 0x07
BULK = 0x02
LIBUSB_ERROR_TIMEOUT = -7


class SimulatedUsbPrinter(usb.backend.IBackend):
    """One USB printer at ``vendor_id:product_id`` in front of ``printer`` (a SimulatedPrinter)."""

    def __init__(self, printer, vendor_id: int = 0x0416, product_id: int = 0x5011):
        super().__init__()
        self.printer = printer
        self.vendor_id, self.product_id = vendor_id, product_id
        self.plugged = True
        self._replies = bytearray()
        self._reply_ready = threading.Condition()

    # -- descriptors ---------------------------------------------------------------
    def enumerate_devices(self):
        return ["printer"] if self.plugged else []

    def get_device_descriptor(self, dev):
        return SimpleNamespace(bLength=18, bDescriptorType=1, bcdUSB=0x0200, bDeviceClass=0, bDeviceSubClass=0,
                               bDeviceProtocol=0, bMaxPacketSize0=64, idVendor=self.vendor_id,
                               idProduct=self.product_id, bcdDevice=0x0100, iManufacturer=0, iProduct=0,
                               iSerialNumber=0, bNumConfigurations=1, address=1, bus=1, port_number=1,
                               port_numbers=(1,), speed=usb.util.SPEED_FULL)

    def get_configuration_descriptor(self, dev, config):
        return SimpleNamespace(bLength=9, bDescriptorType=2, wTotalLength=32, bNumInterfaces=1,
                               bConfigurationValue=1, iConfiguration=0, bmAttributes=0xC0, bMaxPower=50,
                               extra_descriptors=[])

    def get_interface_descriptor(self, dev, intf, alt, config):
        return SimpleNamespace(bLength=9, bDescriptorType=4, bInterfaceNumber=0, bAlternateSetting=0,
                               bNumEndpoints=2, bInterfaceClass=PRINTER_CLASS, bInterfaceSubClass=1,
                               bInterfaceProtocol=2, iInterface=0, extra_descriptors=[])

    def get_endpoint_descriptor(self, dev, ep, intf, alt, config):
        return SimpleNamespace(bLength=7, bDescriptorType=5, bEndpointAddress=(OUT_EP, IN_EP)[ep],
                               bmAttributes=BULK, wMaxPacketSize=64, bInterval=0, bRefresh=0, bSynchAddress=0,
                               extra_descriptors=[])

    # -- handle ------------------------------------------------------------------------
    def open_device(self, dev):
        if not self.plugged:
            raise usb.core.USBError("No such device (it may have been disconnected)", errno=19)
        return "handle"

    def close_device(self, dev_handle):
        pass

    def set_configuration(self, dev_handle, config_value):
        pass

    def get_configuration(self, dev_handle):
        return 1

    def claim_interface(self, dev_handle, intf):
        pass

    def release_interface(self, dev_handle, intf):
        pass

    def reset_device(self, dev_handle):
        pass

    # -- transfers -------------------------------------------------------------------
    def bulk_write(self, dev_handle, ep, intf, data, timeout):
        if not self.plugged:
            raise usb.core.USBError("No such device (it may have been disconnected)", errno=19)
        reply = self.printer.receive(bytes(data))
        if reply:
            with self._reply_ready:
                self._replies += reply
                self._reply_ready.notify_all()
        return len(data)

    def bulk_read(self, dev_handle, ep, intf, buff, timeout):
        with self._reply_ready:
            if not self._reply_ready.wait_for(lambda: self._replies or not self.plugged, timeout / 1000):
                raise usb.core.USBTimeoutError("Operation timed out", errno=110,
                                               error_code=LIBUSB_ERROR_TIMEOUT)
            if not self.plugged:
                raise usb.core.USBError("No such device (it may have been disconnected)", errno=19)
            count = min(len(buff), len(self._replies))
            buff[:count] = array.array("B", self._replies[:count])
            del self._replies[:count]
            return count
